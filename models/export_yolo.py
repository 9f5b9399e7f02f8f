#!/usr/bin/env python3
"""Export YOLO-style single-output detectors — the fixtures for model-native decode and class sets.

    /usr/bin/python3 models/export_yolo.py [--out models/fixtures/yolo] [--size 128] [--width 8]

Written from the public description of the anchor-free YOLO family (v8 style), not from its code:
- Conv = Conv2d + BatchNorm + SiLU; C2f = 1×1 conv to 2c, split in halves, n bottlenecks on the
  second half each appended, concat all, 1×1 conv; SPPF = 1×1 conv, three chained 5×5 max-pools,
  concat, 1×1 conv.
- Backbone strides 2…32, PAN neck (upsample + concat top-down, strided conv + concat bottom-up),
  outputs at strides 8, 16, 32.
- Decoupled head per level: a box branch (two 3×3 Convs, then a 1×1 Conv2d to 4·reg_max bins) and a
  class branch (two 3×3 Convs, then a 1×1 Conv2d to C logits, bias at prior 0.01).
- Decode inside the graph: per level cat(box, cls).view(B, no, −1), levels concatenated on N, split
  into box and class channels. DFL: the 4·reg_max bins → softmax over the bins → expectation by a
  fixed 1×1 conv with weights 0…reg_max−1 → distances (l, t, r, b) in strides; "exp": distances =
  exp(x). Anchor points at (x + ½, y + ½) per cell; x1y1 = p − lt, x2y2 = p + rb; output
  (cx, cy, w, h) × stride in input pixels, then the class sigmoids: one tensor [B, 4 + C, N]
  ("channels-last": [B, N, 4 + C]).
BatchNorm folds into the convolutions (eval export, constant folding). Anchor points, strides and
the DFL weights are buffers: initializers a trainer must not train. Random init; nothing downloads.
"""

import argparse
import os

import torch
from torch import nn


class Conv(nn.Module):
    def __init__(self, cin, cout, k=1, s=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, s, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.act = nn.SiLU()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    def __init__(self, c, shortcut=True):
        super().__init__()
        self.cv1 = Conv(c, c, 3)
        self.cv2 = Conv(c, c, 3)
        self.add = shortcut

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C2f(nn.Module):
    def __init__(self, cin, cout, n=1, shortcut=True):
        super().__init__()
        self.c = cout // 2
        self.cv1 = Conv(cin, 2 * self.c)
        self.cv2 = Conv((2 + n) * self.c, cout)
        self.m = nn.ModuleList(Bottleneck(self.c, shortcut) for _ in range(n))

    def forward(self, x):
        parts = list(self.cv1(x).split((self.c, self.c), 1))
        for m in self.m:
            parts.append(m(parts[-1]))
        return self.cv2(torch.cat(parts, 1))


class SPPF(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.cv1 = Conv(cin, cin // 2)
        self.cv2 = Conv(cin // 2 * 4, cout)
        self.m = nn.MaxPool2d(5, 1, 2)

    def forward(self, x):
        y = [self.cv1(x)]
        for _ in range(3):
            y.append(self.m(y[-1]))
        return self.cv2(torch.cat(y, 1))


class Detector(nn.Module):
    def __init__(self, classes, size, width=8, box="dfl", reg_max=16, layout="channels-first"):
        super().__init__()
        w = [width, width * 2, width * 4, width * 8]
        self.stem = nn.Sequential(Conv(3, w[0], 3, 2), Conv(w[0], w[1], 3, 2), C2f(w[1], w[1]))
        self.p3 = nn.Sequential(Conv(w[1], w[2], 3, 2), C2f(w[2], w[2]))
        self.p4 = nn.Sequential(Conv(w[2], w[3], 3, 2), C2f(w[3], w[3]))
        self.p5 = nn.Sequential(Conv(w[3], w[3], 3, 2), C2f(w[3], w[3]), SPPF(w[3], w[3]))
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.td4 = C2f(w[3] + w[3], w[3], shortcut=False)
        self.td3 = C2f(w[3] + w[2], w[2], shortcut=False)
        self.down3 = Conv(w[2], w[2], 3, 2)
        self.bu4 = C2f(w[2] + w[3], w[3], shortcut=False)
        self.down4 = Conv(w[3], w[3], 3, 2)
        self.bu5 = C2f(w[3] + w[3], w[3], shortcut=False)
        chans = [w[2], w[3], w[3]]
        self.strides = [8, 16, 32]
        self.box_kind, self.reg_max, self.layout, self.nc = box, reg_max, layout, classes
        self.box_out = 4 * reg_max if box == "dfl" else 4
        hb, hc = max(16, width * 2), max(16, width * 2)
        self.box_branch = nn.ModuleList(nn.Sequential(Conv(c, hb, 3), Conv(hb, hb, 3), nn.Conv2d(hb, self.box_out, 1)) for c in chans)
        self.cls_branch = nn.ModuleList(nn.Sequential(Conv(c, hc, 3), Conv(hc, hc, 3), nn.Conv2d(hc, classes, 1)) for c in chans)
        for b in self.cls_branch:
            nn.init.constant_(b[-1].bias, -4.595)  # prior probability 0.01
        # Decode constants (buffers): anchor points in cells, strides, DFL expectation weights.
        points, strides = [], []
        for s in self.strides:
            f = size // s
            ys, xs = torch.meshgrid(torch.arange(f) + 0.5, torch.arange(f) + 0.5, indexing="ij")
            points.append(torch.stack([xs.reshape(-1), ys.reshape(-1)], 0))
            strides.append(torch.full((1, f * f), float(s)))
        self.register_buffer("anchor_points", torch.cat(points, 1).unsqueeze(0))  # [1, 2, N]
        self.register_buffer("anchor_strides", torch.cat(strides, 1).unsqueeze(0))  # [1, 1, N]
        self.dfl = nn.Conv2d(reg_max, 1, 1, bias=False).requires_grad_(False)
        self.dfl.weight.data[:] = torch.arange(reg_max, dtype=torch.float).view(1, reg_max, 1, 1)

    def forward(self, x):
        c2 = self.stem(x)
        c3 = self.p3(c2)
        c4 = self.p4(c3)
        c5 = self.p5(c4)
        t4 = self.td4(torch.cat([self.up(c5), c4], 1))
        n3 = self.td3(torch.cat([self.up(t4), c3], 1))
        n4 = self.bu4(torch.cat([self.down3(n3), t4], 1))
        n5 = self.bu5(torch.cat([self.down4(n4), c5], 1))
        B = x.shape[0]
        no = self.box_out + self.nc
        levels = [torch.cat([bb(f), cb(f)], 1).view(B, no, -1) for f, bb, cb in zip([n3, n4, n5], self.box_branch, self.cls_branch)]
        box, cls = torch.cat(levels, 2).split((self.box_out, self.nc), 1)
        if self.box_kind == "dfl":
            n = box.shape[2]
            bins = box.view(B, 4, self.reg_max, n).transpose(2, 1).softmax(1)  # [B, reg_max, 4, N]
            dist = self.dfl(bins).view(B, 4, n)
        else:
            dist = box.exp()
        lt, rb = dist.chunk(2, 1)
        x1y1 = self.anchor_points - lt
        x2y2 = self.anchor_points + rb
        boxes = torch.cat([(x1y1 + x2y2) / 2, x2y2 - x1y1], 1) * self.anchor_strides
        y = torch.cat([boxes, cls.sigmoid()], 1)
        return y.transpose(1, 2) if self.layout == "channels-last" else y


# name: (box decode, classes, static batch, output layout)
FIXTURES = {
    "yolo_dfl_dynamic_c80": ("dfl", 80, False, "channels-first"),
    "yolo_dfl_b1_c3": ("dfl", 3, True, "channels-first"),
    "yolo_exp_dynamic_c3_nlast": ("exp", 3, False, "channels-last"),
    "yolo_exp_b1_c5": ("exp", 5, True, "channels-first"),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "fixtures", "yolo"))
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--width", type=int, default=8)
    ap.add_argument("--only", default="", help="comma-separated fixture names")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name, (box, classes, static, layout) in FIXTURES.items():
        if args.only and name not in args.only.split(","):
            continue
        torch.manual_seed(0)
        model = Detector(classes, args.size, args.width, box, layout=layout).eval()
        x = torch.rand(1, 3, args.size, args.size)
        with torch.no_grad():
            y = model(x)
        path = os.path.join(args.out, f"{name}.onnx")
        torch.onnx.export(model, x, path, opset_version=17, input_names=["images"], output_names=["output0"],
                          dynamic_axes=None if static else {"images": {0: "batch"}, "output0": {0: "batch"}})
        print(path, os.path.getsize(path), tuple(y.shape))


if __name__ == "__main__":
    main()
