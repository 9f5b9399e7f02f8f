"""Scores COCO cases with pycocotools' COCOeval and the authors' LRP-Error fork (local comparison
only: bench/coco_eval_parity.ts drives it; never a test or user dependency).

usage: python3 coco_eval_reference.py PYCOCOTOOLS_DIR LRP_ERROR_DIR CASES_DIR
PYCOCOTOOLS_DIR / LRP_ERROR_DIR hold a built `pycocotools` package each (setup.py build_ext --inplace).
CASES_DIR holds N/gt.json and N/res.json; prints one JSON object per case: {case, coco, lrp, thresholds}.
"""
import contextlib
import importlib
import io
import json
import os
import sys

import numpy as np

np.float = float  # the reference code predates numpy 1.24

# coco.py imports matplotlib for showAnns only; stand-ins let it load where matplotlib is absent.
try:
    import matplotlib  # noqa: F401
except ImportError:
    import types
    for name in ["matplotlib", "matplotlib.pyplot", "matplotlib.collections", "matplotlib.patches"]:
        sys.modules[name] = types.ModuleType(name)
    sys.modules["matplotlib.collections"].PatchCollection = None
    sys.modules["matplotlib.patches"].Polygon = None


def load(root):
    for name in [m for m in sys.modules if m == "pycocotools" or m.startswith("pycocotools.")]:
        del sys.modules[name]
    sys.path.insert(0, root)
    coco = importlib.import_module("pycocotools.coco")
    cocoeval = importlib.import_module("pycocotools.cocoeval")
    sys.path.pop(0)
    return coco.COCO, cocoeval.COCOeval


def run(COCO, COCOeval, case_dir):
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(os.path.join(case_dir, "gt.json"))
        with open(os.path.join(case_dir, "res.json")) as f:
            res = json.load(f)
        dt = gt.loadRes(res) if res else COCO()
        if not res:  # pycocotools cannot load an empty results list
            dt.dataset = {"images": gt.dataset["images"], "categories": gt.dataset["categories"], "annotations": []}
            dt.createIndex()
        e = COCOeval(gt, dt, "bbox")
        e.evaluate()
        e.accumulate()
        e.summarize()
    return e


def main():
    coco_root, lrp_root, cases = sys.argv[1:4]
    names = sorted(os.listdir(cases), key=lambda s: int(s))
    coco_cls = load(coco_root)
    coco_out = {n: [float(x) for x in run(*coco_cls, os.path.join(cases, n)).stats] for n in names}
    lrp_cls = load(lrp_root)
    for n in names:
        e = run(*lrp_cls, os.path.join(cases, n))
        thr = e.eval["lrp_opt_thr"][:, 0, 2]
        cats = e.params.catIds
        thresholds = {str(c): (-1.0 if np.isnan(t) else float(t)) for c, t in zip(cats, thr)}
        print(json.dumps({"case": n, "coco": coco_out[n], "lrp": [float(x) for x in e.stats], "thresholds": thresholds}))


if __name__ == "__main__":
    main()
