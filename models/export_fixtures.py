#!/usr/bin/env python3
"""Export small torchvision-style detectors to ONNX as test fixtures (random init; nothing downloads).

Run with Debian's python3-torch / python3-torchvision (`apt-get install python3-torch
python3-torchvision python3-onnx`):

    /usr/bin/python3 models/export_fixtures.py [--out models/fixtures]

Each model is a tiny conv backbone + torchvision's FeaturePyramidNetwork (FPN upsampling is Resize)
+ a torchvision detection head (FCOS: GroupNorm, convs shared across levels; RetinaNet), exported
raw (per-level head outputs, no post-processing) — the part of a detector that training touches.
One model is also saved with external data, to test that path. Python is a fixture tool only.
"""

import argparse
import gzip
import json
import os
from collections import OrderedDict

import onnx
import torch
from torch import nn
from torchvision.models.detection.fcos import FCOSHead
from torchvision.models.detection.retinanet import RetinaNetHead
from torchvision.ops import FeaturePyramidNetwork


class TinyBackbone(nn.Module):
    """Three stride-2 stages: features at strides 8, 16 and 32."""

    def __init__(self, width: int = 16):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, 2, 1), nn.ReLU(), nn.Conv2d(width, width, 3, 2, 1), nn.ReLU())
        self.c3 = nn.Sequential(nn.Conv2d(width, width * 2, 3, 2, 1), nn.ReLU())
        self.c4 = nn.Sequential(nn.Conv2d(width * 2, width * 4, 3, 2, 1), nn.ReLU())
        self.c5 = nn.Sequential(nn.Conv2d(width * 4, width * 4, 3, 2, 1), nn.ReLU())
        self.channels = [width * 2, width * 4, width * 4]

    def forward(self, x):
        x = self.stem(x)
        c3 = self.c3(x)
        c4 = self.c4(c3)
        c5 = self.c5(c4)
        return OrderedDict([("p3", c3), ("p4", c4), ("p5", c5)])


class RawDetector(nn.Module):
    """Backbone + FPN + head; returns each level's classification logits and box outputs."""

    def __init__(self, head_kind: str, num_classes: int = 3, fpn_channels: int = 32):
        super().__init__()
        self.backbone = TinyBackbone()
        self.fpn = FeaturePyramidNetwork(self.backbone.channels, fpn_channels)
        if head_kind == "fcos":
            self.head = FCOSHead(fpn_channels, num_anchors=1, num_classes=num_classes, num_convs=2)
        else:
            self.head = RetinaNetHead(fpn_channels, num_anchors=9, num_classes=num_classes)
        self.head_kind = head_kind

    def forward(self, images):
        feats = list(self.fpn(self.backbone(images)).values())
        if self.head_kind == "fcos":
            cls = [self.head.classification_head.cls_logits(self._tower(self.head.classification_head.conv, f)) for f in feats]
            reg_feats = [self._tower(self.head.regression_head.conv, f) for f in feats]
            box = [self.head.regression_head.bbox_reg(f) for f in reg_feats]
            ctr = [self.head.regression_head.bbox_ctrness(f) for f in reg_feats]
            return tuple(cls + box + ctr)
        cls = [self.head.classification_head.cls_logits(self.head.classification_head.conv(f)) for f in feats]
        box = [self.head.regression_head.bbox_reg(self.head.regression_head.conv(f)) for f in feats]
        return tuple(cls + box)

    @staticmethod
    def _tower(conv, f):
        return conv(f)


class TinySSDLite(nn.Module):
    """MobileNetV3 inverted-residual blocks (depthwise convs, BatchNorm, HardSwish, squeeze-excite with
    Hardsigmoid) and torchvision's SSDLiteHead (depthwise-separable convs, BatchNorm, ReLU6)."""

    def __init__(self, num_classes: int = 3):
        super().__init__()
        from functools import partial

        from torchvision.models.detection.ssdlite import SSDLiteHead
        from torchvision.models.mobilenetv3 import InvertedResidual, InvertedResidualConfig

        norm = partial(nn.BatchNorm2d, eps=0.001, momentum=0.03)
        cfg = lambda *a: InvertedResidualConfig(*a, width_mult=1.0)  # noqa: E731
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), norm(16), nn.Hardswish())
        self.stage1 = nn.Sequential(InvertedResidual(cfg(16, 3, 32, 24, True, "HS", 2, 1), norm))
        self.stage2 = nn.Sequential(InvertedResidual(cfg(24, 5, 48, 32, True, "HS", 2, 1), norm),
                                    InvertedResidual(cfg(32, 3, 64, 32, False, "RE", 1, 1), norm))
        self.head = SSDLiteHead([24, 32], [4, 4], num_classes, norm)

    def forward(self, images):
        f1 = self.stage1(self.stem(images))
        f2 = self.stage2(f1)
        ch, rh = self.head.classification_head, self.head.regression_head
        cls = [m(f) for m, f in zip(ch.module_list, [f1, f2])]
        box = [m(f) for m, f in zip(rh.module_list, [f1, f2])]
        return tuple(cls + box)


def export(model: nn.Module, path: str, size: int, external: bool = False, batch: int = 1, dynamic_batch: bool = False) -> None:
    model.eval()
    x = torch.randn(batch, 3, size, size)
    n_out = len(model(x))
    names = [f"out{i}" for i in range(n_out)]
    axes = {n: {0: "batch"} for n in ["images", *names]} if dynamic_batch else None
    torch.onnx.export(model, x, path, opset_version=17, input_names=["images"], output_names=names,
                      do_constant_folding=False, training=torch.onnx.TrainingMode.TRAINING, dynamic_axes=axes)
    if external:
        data_path = path + ".data"
        if os.path.exists(data_path):
            os.remove(data_path)  # onnx appends to an existing external-data file
        m = onnx.load(path)
        onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=os.path.basename(path) + ".data", size_threshold=1024)


def gradient_fixture(model: nn.Module, path: str, size: int, seed: int) -> None:
    """PyTorch autograd gradients of sum_k(out_k * cotangent_k) for a fixed input and cotangents."""
    model.train()  # the export used TrainingMode.TRAINING: same graph, no folding
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(1, 3, size, size, generator=gen)
    outs = model(x)
    cotangents = [torch.randn(o.shape, generator=gen) for o in outs]
    model.zero_grad()
    total = sum((o * c).sum() for o, c in zip(outs, cotangents))
    total.backward()

    def tensor(t):
        return {"dims": list(t.shape), "data": [float("%.8g" % v) for v in t.detach().reshape(-1).tolist()]}

    fixture = {
        "inputs": {"images": tensor(x)},
        "cotangents": {f"out{i}": tensor(c) for i, c in enumerate(cotangents)},
        "gradients": {name: tensor(p.grad) for name, p in model.named_parameters() if p.grad is not None},
    }
    # mtime=0 keeps the compressed bytes the same from run to run.
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        gz.write(json.dumps(fixture).encode())


def export_bundled(path: str) -> None:
    """The demo's detector: the tiny FCOS-style model (3 classes, strides 8/16/32), batch dynamic,
    128×128 inputs. Outputs out0–2 class logits, out3–5 box distances, out6–8 centerness."""
    torch.manual_seed(42)
    model = RawDetector("fcos")
    # Detection-style init of the class bias: every score starts near 0.01 (focal-loss prior).
    torch.nn.init.constant_(model.head.classification_head.cls_logits.bias, -4.595)
    export(model, path, 128, batch=2, dynamic_batch=True)


def export_bundled_retinanet(path: str) -> None:
    """A RetinaNet-style detector for fine-tuning tests: 9 anchors per location, 3 classes, strides
    8/16/32, 128×128, batch dynamic. Outputs out0–2 class logits [B, 9·3, H, W], out3–5 box deltas."""
    torch.manual_seed(43)
    model = RawDetector("retinanet")
    torch.nn.init.constant_(model.head.classification_head.cls_logits.bias, -4.595)
    export(model, path, 128, batch=2, dynamic_batch=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "fixtures"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    fcos = RawDetector("fcos")
    export(fcos, os.path.join(args.out, "tiny_fcos.onnx"), 64)
    gradient_fixture(fcos, os.path.join(args.out, "tiny_fcos.grads.json.gz"), 64, seed=10)
    torch.manual_seed(1)
    retina = RawDetector("retinanet")
    export(retina, os.path.join(args.out, "tiny_retinanet.onnx"), 64)
    gradient_fixture(retina, os.path.join(args.out, "tiny_retinanet.grads.json.gz"), 64, seed=11)
    torch.manual_seed(3)
    ssd = TinySSDLite()
    export(ssd, os.path.join(args.out, "tiny_ssdlite.onnx"), 64)
    gradient_fixture(ssd, os.path.join(args.out, "tiny_ssdlite.grads.json.gz"), 64, seed=12)
    torch.manual_seed(2)
    export(RawDetector("fcos"), os.path.join(args.out, "tiny_fcos_external.onnx"), 64, external=True)
    export_bundled(os.path.join(os.path.dirname(__file__), "tiny_fcos_128.onnx"))
    export_bundled_retinanet(os.path.join(os.path.dirname(__file__), "tiny_retinanet_128.onnx"))
    for f in sorted(os.listdir(args.out)):
        print(f, os.path.getsize(os.path.join(args.out, f)))


if __name__ == "__main__":
    main()
