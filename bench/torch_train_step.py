#!/usr/bin/env python3
"""PyTorch CPU baseline for the train-step benchmark (bench/train_step.ts): forward, a squared-error
loss against zeros on every head output, backward and an SGD step, on the same model, batch size,
image size and thread count. Exports the same raw detector to ONNX for the TypeScript side.

    python3 bench/torch_train_step.py --model tiny_fcos|r18_fcos --size 256 --batch 2 --threads 2
        --onnx OUT.onnx --steps 5

Prints one JSON line: {"model", "size", "batch", "threads", "step_ms": median, "peak_rss_mb"}.
"""

import argparse
import json
import os
import resource
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "models"))
from export_fixtures import RawDetector, export  # noqa: E402


def r18_fcos():
    from torchvision.models.detection.backbone_utils import resnet_fpn_backbone
    from torchvision.models.detection.fcos import FCOSHead
    from torchvision.ops.feature_pyramid_network import LastLevelP6P7

    class R18Fcos(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = resnet_fpn_backbone(backbone_name="resnet18", weights=None, trainable_layers=5,
                                                returned_layers=[2, 3, 4], extra_blocks=LastLevelP6P7(256, 256))
            self.head = FCOSHead(256, num_anchors=1, num_classes=80)

        def forward(self, images):
            feats = list(self.backbone(images).values())
            ch, rh = self.head.classification_head, self.head.regression_head
            cls = [ch.cls_logits(ch.conv(f)) for f in feats]
            reg = [rh.conv(f) for f in feats]
            return tuple(cls + [rh.bbox_reg(f) for f in reg] + [rh.bbox_ctrness(f) for f in reg])

    return R18Fcos()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="tiny_fcos")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--onnx", required=True)
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    model = RawDetector("fcos") if args.model == "tiny_fcos" else r18_fcos()
    export(model, args.onnx, args.size, batch=args.batch)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-4)
    x = torch.randn(args.batch, 3, args.size, args.size)
    times = []
    for i in range(args.steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad()
        outs = model(x)
        loss = sum((o * o).mean() for o in outs)
        loss.backward()
        opt.step()
        if i > 0:
            times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    print(json.dumps({"model": args.model, "size": args.size, "batch": args.batch, "threads": args.threads,
                      "step_ms": times[len(times) // 2], "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
