#!/usr/bin/env python3
"""Export torchvision's FCOS and RetinaNet (ResNet-18-FPN, P3–P7) and SSDlite (MobileNetV3-Large,
six maps), random weights — nothing downloads — with raw head outputs, for
`ranksort train --preset torchvision-fcos|torchvision-retinanet|torchvision-ssdlite`.

    /usr/bin/python3 models/export_torchvision.py --out models/exports [--classes 3] [--size 128]

Outputs: out0–4 class logits per level (P3…P7), out5–9 box regression per level (FCOS: out10–14
centerness); SSDlite: out0–5 class logits (background first per box), out6–11 box regression.
Batch is dynamic. The files are ~50 MB each, so they are generated, not committed.
Python is a tool for fixtures, never a user requirement.
"""

import argparse
import os

import torch
from torchvision.models.detection import ssdlite320_mobilenet_v3_large
from torchvision.models.detection.backbone_utils import resnet_fpn_backbone
from torchvision.models.detection.fcos import FCOSHead
from torchvision.models.detection.retinanet import RetinaNetHead
from torchvision.ops.feature_pyramid_network import LastLevelP6P7


class RawSSDlite(torch.nn.Module):
    def __init__(self, classes: int):
        super().__init__()
        model = ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=classes + 1)
        self.backbone = model.backbone
        self.head = model.head

    def forward(self, images):
        feats = list(self.backbone(images).values())
        cls = [m(f) for m, f in zip(self.head.classification_head.module_list, feats)]
        box = [m(f) for m, f in zip(self.head.regression_head.module_list, feats)]
        return tuple(cls + box)


class Raw(torch.nn.Module):
    def __init__(self, kind: str, classes: int):
        super().__init__()
        self.kind = kind
        self.backbone = resnet_fpn_backbone(backbone_name="resnet18", weights=None, trainable_layers=5,
                                            returned_layers=[2, 3, 4], extra_blocks=LastLevelP6P7(256, 256))
        if kind == "fcos":
            self.head = FCOSHead(256, num_anchors=1, num_classes=classes)
        else:
            self.head = RetinaNetHead(256, num_anchors=9, num_classes=classes)

    def forward(self, images):
        feats = list(self.backbone(images).values())
        ch, rh = self.head.classification_head, self.head.regression_head
        cls = [ch.cls_logits(ch.conv(f)) for f in feats]
        reg = [rh.conv(f) for f in feats]
        box = [rh.bbox_reg(f) for f in reg]
        if self.kind == "fcos":
            return tuple(cls + box + [rh.bbox_ctrness(f) for f in reg])
        return tuple(cls + box)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "exports"))
    ap.add_argument("--classes", type=int, default=3)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--kinds", default="fcos,retinanet,ssdlite")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for kind in args.kinds.split(","):
        torch.manual_seed(0)
        model = (RawSSDlite(args.classes) if kind == "ssdlite" else Raw(kind, args.classes)).eval()
        x = torch.randn(2, 3, args.size, args.size)
        names = [f"out{i}" for i in range(len(model(x)))]
        path = os.path.join(args.out, f"torchvision_{kind}_{'mnv3' if kind == 'ssdlite' else 'r18'}.onnx")
        torch.onnx.export(model, x, path, opset_version=17, input_names=["images"], output_names=names,
                          do_constant_folding=False, training=torch.onnx.TrainingMode.TRAINING,
                          dynamic_axes={n: {0: "batch"} for n in ["images", *names]})
        print(path, os.path.getsize(path))


if __name__ == "__main__":
    main()
