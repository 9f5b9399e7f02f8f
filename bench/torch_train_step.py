#!/usr/bin/env python3
"""PyTorch CPU baseline for the train-step benchmark (bench/train_step.ts): forward, a squared-error
loss against zeros on every head output, backward and an SGD step, on the same model, batch size,
image size and thread count. Exports the same raw detector to ONNX for the TypeScript side.

    python3 bench/torch_train_step.py --model tiny_fcos|r18_fcos|ssdlite --size 256 --batch 2 --onnx OUT.onnx
    python3 bench/torch_train_step.py --model tiny_fcos|r18_fcos|ssdlite --size 256 --batch 2 --threads 2 --steps 5

Prints one JSON line: {"model", "size", "batch", "threads", "step_ms": median, "min_ms", "peak_rss_mb",
"parameters": the trained parameter names}.
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


def ssdlite():
    """torchvision's SSDlite320 MobileNetV3-Large up to its head outputs (BatchNorm in training mode)."""
    from torchvision.models.detection import ssdlite320_mobilenet_v3_large

    class SsdLite(torch.nn.Module):
        def __init__(self):
            super().__init__()
            full = ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None)
            self.backbone, self.head = full.backbone, full.head

        def forward(self, images):
            out = self.head(list(self.backbone(images).values()))
            return out["cls_logits"], out["bbox_regression"]

    return SsdLite()


MODELS = {"tiny_fcos": lambda: RawDetector("fcos"), "r18_fcos": r18_fcos, "ssdlite": ssdlite}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="tiny_fcos")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--onnx", help="export the model here and exit (a separate run, so that the export's memory is not "
                                    "counted in the step's peak)")
    ap.add_argument("--warmup", type=int, default=2)
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    model = MODELS[args.model]()
    if args.onnx:
        export(model, args.onnx, args.size, batch=args.batch)
        return
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-4)
    x = torch.randn(args.batch, 3, args.size, args.size)
    times = []
    first_ms = None
    for i in range(args.steps + args.warmup):
        t0 = time.perf_counter()
        opt.zero_grad()
        outs = model(x)
        loss = sum((o * o).mean() for o in outs)
        loss.backward()
        opt.step()
        if first_ms is None:
            first_ms = (time.perf_counter() - t_start) * 1000
        if i >= args.warmup:
            times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    # What PyTorch trains (FrozenBatchNorm2d's statistics and affine are buffers, not parameters):
    # the ONNX side trains exactly these initializers, so both do the same work.
    print(json.dumps({"model": args.model, "size": args.size, "batch": args.batch, "threads": args.threads,
                      "step_ms": times[len(times) // 2], "min_ms": times[0], "first_step_ms": first_ms,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "parameters": [n for n, _ in model.named_parameters()]}))


if __name__ == "__main__":
    main()
