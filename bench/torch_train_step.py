#!/usr/bin/env python3
"""PyTorch CPU baseline for the train-step benchmark (bench/train_step.ts): forward, a squared-error
loss against zeros on every head output, backward and an SGD step, on the same model, batch size,
image size and thread count. Exports the same detector to ONNX for the TypeScript side: the raw
heads (tiny_fcos, r18_fcos, ssdlite), or torchvision's full model with post-processing, exported the
ordinary way (*_full: the TypeScript side binds it with its ranksort preset).

    python3 bench/torch_train_step.py --model tiny_fcos|r18_fcos|ssdlite|fcos_r50_full|retinanet_r50_full|ssdlite_full --size 256 --batch 2 --onnx OUT.onnx
    python3 bench/torch_train_step.py --model r18_fcos --size 256 --batch 2 --threads 2 --steps 5

Prints one JSON line: {"model", "size", "batch", "threads", "step_ms": median, "min_ms", "peak_rss_mb",
"parameters": the trained parameter names, "preset": the ranksort preset of a full export, else null}.
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
from export_ordinary import export_full  # noqa: E402


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


class FullHeads(torch.nn.Module):
    """A torchvision detector from its transform to the head tensors the ranksort preset names (the
    per-level conv outputs), so both sides train the same computation. BatchNorm runs as the eval-mode
    affine map the ONNX export folds into the convolutions."""

    def __init__(self, model, kind):
        super().__init__()
        self.model, self.kind = model.eval(), kind

    def forward(self, images):
        m = self.model
        feats = list(m.backbone(m.transform(list(images))[0].tensors).values())
        ch, rh = m.head.classification_head, m.head.regression_head
        if self.kind == "ssdlite":
            return tuple([ch.module_list[k](f) for k, f in enumerate(feats)] + [rh.module_list[k](f) for k, f in enumerate(feats)])
        cls = [ch.cls_logits(ch.conv(f)) for f in feats]
        reg = [rh.conv(f) for f in feats]
        if self.kind == "fcos":
            return tuple(cls + [rh.bbox_reg(f) for f in reg] + [rh.bbox_ctrness(f) for f in reg])
        return tuple(cls + [rh.bbox_reg(f) for f in reg])


def full_model(kind, size):
    from torchvision.models.detection import fcos_resnet50_fpn, retinanet_resnet50_fpn, ssdlite320_mobilenet_v3_large
    if kind == "fcos":
        return fcos_resnet50_fpn(weights=None, weights_backbone=None, min_size=size, max_size=size)
    if kind == "retinanet":
        return retinanet_resnet50_fpn(weights=None, weights_backbone=None, min_size=size, max_size=size)
    return ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None)


# torchvision's full detection models (COCO's 91 labels, random init), exported the ordinary way
# (post-processing included, one [3, H, W] image per run): what users bring. The ONNX side binds
# them with the ranksort preset named here and trains one graph copy per image, as `ranksort train` does.
FULL = {"fcos_r50_full": ("fcos", "fcos_resnet50_fpn"), "retinanet_r50_full": ("retinanet", "retinanet_resnet50_fpn"),
        "ssdlite_full": ("ssdlite", "ssdlite320_mobilenet_v3_large")}


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
    full = FULL.get(args.model)
    if full:
        detector = full_model(full[0], args.size)
        if args.onnx:
            export_full(detector, args.onnx, args.size)
            return
        model = FullHeads(detector, full[0])
        x = torch.rand(args.batch, 3, args.size, args.size)
    else:
        model = MODELS[args.model]()
        if args.onnx:
            export(model, args.onnx, args.size, batch=args.batch)
            return
        model.train()
        x = torch.randn(args.batch, 3, args.size, args.size)
    opt = torch.optim.SGD(model.parameters(), lr=1e-4)
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
                      "parameters": [n for n, _ in model.named_parameters()], "preset": full[1] if full else None}))


if __name__ == "__main__":
    main()
