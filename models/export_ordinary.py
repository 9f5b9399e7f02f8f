#!/usr/bin/env python3
"""Export detectors the ordinary way a user does — the fixtures for "bring your own detector".

    /usr/bin/python3 models/export_ordinary.py --out models/fixtures/ordinary [--classes 4] [--size 128]
    /usr/bin/python3 models/export_ordinary.py --full-size --out models/exports   # R50 builders (bench)

Full models, post-processing included, exported as torchvision's own ONNX tests do:
`torch.onnx.export(model.eval(), ([img],), path, opset_version=17)` (constant folding on, eval mode).
- `torchvision_retinanet.onnx`, `torchvision_fcos.onnx`: torchvision's `RetinaNet` / `FCOS` classes
  on a small FrozenBN conv backbone + torchvision's FPN with P6/P7 (the builders' structure; the
  R50 builders with --full-size), `min_size=max_size=size`.
- `torchvision_ssdlite.onnx`: `ssdlite320_mobilenet_v3_large` itself (its size is fixed at 320).
- `folded_bn_fcos_raw.onnx`: an eval-mode raw-head export (FCOS head outputs, no post-processing)
  whose FrozenBN layers constant-fold into Mul/Add constants: what `--freeze bn` is for.
`--classes` counts torchvision's unused background label 0 (4 = three object classes).
Random init, nothing downloads. Python is a fixture tool, never a user requirement.
"""

import argparse
import os
from collections import OrderedDict

import torch
from torch import nn
from torchvision.models.detection import FCOS, RetinaNet, fcos_resnet50_fpn, retinanet_resnet50_fpn, ssdlite320_mobilenet_v3_large
from torchvision.models.detection.fcos import FCOSHead
from torchvision.ops import FeaturePyramidNetwork, FrozenBatchNorm2d
from torchvision.ops.feature_pyramid_network import LastLevelP6P7


def stage(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, 2, 1, bias=False), FrozenBatchNorm2d(cout), nn.ReLU())


class SmallBackboneFPN(nn.Module):
    """Five stride-2 conv stages (FrozenBN, as torchvision's ResNet backbones) + FPN, P3–P7."""

    def __init__(self, width=16, out_channels=64):
        super().__init__()
        self.body = nn.Sequential(stage(3, width), stage(width, width))
        self.c3 = stage(width, width * 2)
        self.c4 = stage(width * 2, width * 4)
        self.c5 = stage(width * 4, width * 4)
        self.fpn = FeaturePyramidNetwork([width * 2, width * 4, width * 4], out_channels, extra_blocks=LastLevelP6P7(out_channels, out_channels))
        self.out_channels = out_channels

    def forward(self, x):
        c3 = self.c3(self.body(x))
        c4 = self.c4(c3)
        c5 = self.c5(c4)
        return self.fpn(OrderedDict([("0", c3), ("1", c4), ("2", c5)]))


class RawFCOS(nn.Module):
    """Backbone + FCOS head, raw per-level outputs (class logits, box regression, centerness)."""

    def __init__(self, classes):
        super().__init__()
        self.backbone = SmallBackboneFPN()
        self.head = FCOSHead(self.backbone.out_channels, num_anchors=1, num_classes=classes, num_convs=2)

    def forward(self, images):
        feats = list(self.backbone(images).values())
        ch, rh = self.head.classification_head, self.head.regression_head
        cls = [ch.cls_logits(ch.conv(f)) for f in feats]
        reg = [rh.conv(f) for f in feats]
        return tuple(cls + [rh.bbox_reg(f) for f in reg] + [rh.bbox_ctrness(f) for f in reg])


def export_full(model, path, size):
    model.eval()
    img = torch.rand(3, size, size)
    with torch.no_grad():
        model([img])
    torch.onnx.export(model, ([img],), path, opset_version=17)
    print(path, os.path.getsize(path))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "fixtures", "ordinary"))
    ap.add_argument("--classes", type=int, default=4)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--full-size", action="store_true", help="the R50 builders (large files; for the benchmark script)")
    ap.add_argument("--kinds", default="retinanet,fcos,ssdlite,folded")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    kinds = args.kinds.split(",")
    n, s = args.classes, args.size
    for kind in kinds:
        torch.manual_seed(0)
        if kind == "retinanet":
            model = (retinanet_resnet50_fpn(weights=None, weights_backbone=None, num_classes=n, min_size=s, max_size=s) if args.full_size
                     else RetinaNet(SmallBackboneFPN(), num_classes=n, min_size=s, max_size=s))
            export_full(model, os.path.join(args.out, "torchvision_retinanet.onnx"), s)
        elif kind == "fcos":
            model = (fcos_resnet50_fpn(weights=None, weights_backbone=None, num_classes=n, min_size=s, max_size=s) if args.full_size
                     else FCOS(SmallBackboneFPN(), num_classes=n, min_size=s, max_size=s))
            export_full(model, os.path.join(args.out, "torchvision_fcos.onnx"), s)
        elif kind == "ssdlite":
            export_full(ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=n), os.path.join(args.out, "torchvision_ssdlite.onnx"), 320)
        elif kind == "folded":
            model = RawFCOS(n - 1).eval()
            x = torch.rand(1, 3, s, s)
            path = os.path.join(args.out, "folded_bn_fcos_raw.onnx")
            names = [f"out{i}" for i in range(15)]
            torch.onnx.export(model, x, path, opset_version=17, input_names=["images"], output_names=names,
                              dynamic_axes={k: {0: "batch"} for k in ["images", *names]})
            print(path, os.path.getsize(path))


if __name__ == "__main__":
    main()
