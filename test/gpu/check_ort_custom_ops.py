"""The com.ranksort custom ops of libranksort_cuda.so inside Python onnxruntime, against the golden cases.

Builds one model per case with the onnx helper (a single RankSortLoss, APLoss or ALRPLoss node plus
the matching *Grad node with unit upstream gradients), registers the library with
SessionOptions.register_custom_ops_library, and runs it on every execution provider the installed
onnxruntime offers among CUDA and CPU (the CPU-only wheel runs the CPU EP kernels). Exits 1 on a miss.
"""
import argparse
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from golden_cases import case_files, compare, golden_dir, read_case  # noqa: E402
from ranksort_ctypes import library_path  # noqa: E402

DOMAIN = "com.ranksort"


def loss_model(case):
    p = case.get("params", {})
    f32 = TensorProto.FLOAT
    inputs = [helper.make_tensor_value_info("logits", f32, ["N"]), helper.make_tensor_value_info("targets", f32, ["N"])]
    one = helper.make_tensor("one", f32, [], [1.0])
    if case["loss"] == "rank_sort":
        attrs = {"delta": float(p.get("delta_RS", 0.5)), "eps": float(p.get("eps", 1e-10))}
        nodes = [
            helper.make_node("RankSortLoss", ["logits", "targets"], ["ranking_loss", "sorting_loss", "grad_ranking", "grad_sorting"],
                             domain=DOMAIN, **attrs),
            helper.make_node("RankSortLossGrad", ["logits", "targets", "one", "one"], ["grad"], domain=DOMAIN, **attrs),
        ]
        outputs = [("ranking_loss", f32, []), ("sorting_loss", f32, []), ("grad_ranking", f32, ["N"]), ("grad_sorting", f32, ["N"]),
                   ("grad", f32, ["N"])]
    elif case["loss"] == "ap":
        attrs = {"delta": float(p.get("delta", 1.0))}
        nodes = [
            helper.make_node("APLoss", ["logits", "targets"], ["loss", "grad_from_loss"], domain=DOMAIN, **attrs),
            helper.make_node("APLossGrad", ["logits", "targets", "one"], ["grad"], domain=DOMAIN, **attrs),
        ]
        outputs = [("loss", f32, []), ("grad_from_loss", f32, ["N"]), ("grad", f32, ["N"])]
    else:
        attrs = {"delta": float(p.get("delta", 1.0)), "eps": float(p.get("eps", 1e-5))}
        inputs.append(helper.make_tensor_value_info("regression_losses", f32, ["P"]))
        nodes = [
            helper.make_node("ALRPLoss", ["logits", "targets", "regression_losses"], ["loss", "grad_from_loss", "rank", "order"],
                             domain=DOMAIN, **attrs),
            helper.make_node("ALRPLossGrad", ["logits", "targets", "regression_losses", "one"], ["grad"], domain=DOMAIN, **attrs),
        ]
        outputs = [("loss", f32, []), ("grad_from_loss", f32, ["N"]), ("rank", f32, ["P"]), ("order", TensorProto.INT64, ["P"]),
                   ("grad", f32, ["N"])]
    graph = helper.make_graph(nodes, "ranksort_" + case["loss"], inputs,
                              [helper.make_tensor_value_info(name, t, shape) for name, t, shape in outputs], initializer=[one])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(DOMAIN, 1)])
    model.ir_version = 8  # readable by every onnxruntime that has the custom-op C API we use (1.12+)
    return model.SerializeToString()


def run_case(session, case):
    feeds = {"logits": case["logits"], "targets": case["targets"]}
    if case["loss"] == "alrp":
        feeds["regression_losses"] = case["regression_losses"]
    names = [o.name for o in session.get_outputs()]
    out = dict(zip(names, session.run(None, feeds)))
    result = {k: (float(v) if np.ndim(v) == 0 else v) for k, v in out.items()}
    extra = []
    if "grad_from_loss" in out and not np.array_equal(out["grad_from_loss"], out["grad"]):
        extra.append("the loss op's grad output differs from its Grad op at unit upstream gradient")
    if case["loss"] == "rank_sort":
        both = out["grad_ranking"].astype(np.float64) + out["grad_sorting"]
        if np.abs(both - out["grad"]).max() > 1e-7:
            extra.append("RankSortLossGrad differs from grad_ranking + grad_sorting")
    return result, extra


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--library", default=None)
    args = ap.parse_args()
    library = args.library or library_path()
    directory = golden_dir()
    if not directory:
        print("check_ort_custom_ops: no golden directory")
        return 2
    available = ort.get_available_providers()
    providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
    print(f"check_ort_custom_ops: onnxruntime {ort.__version__}, onnx {onnx.__version__}, providers {providers}, library {library}")
    failed = 0
    for provider in providers:
        count = 0
        for f in case_files(directory):
            case = read_case(os.path.join(directory, f))
            options = ort.SessionOptions()
            options.register_custom_ops_library(library)
            try:
                session = ort.InferenceSession(loss_model(case), options, providers=[provider])
                result, extra = run_case(session, case)
                failures, _, _ = compare(case, result)
                failures += extra
            except Exception as e:  # noqa: BLE001 — report any onnxruntime failure as this case's
                failures = [str(e).splitlines()[0]]
            count += 1
            if failures:
                failed += 1
                print(f"FAIL {provider} {f}: {'; '.join(failures)}")
        print(f"check_ort_custom_ops: {provider}: {count} cases run")
    # A bad input must fail the run with the library's message.
    bad = {"loss": "ap", "params": {"delta": 1.0}, "logits": np.array([1, 2], np.float32), "targets": np.array([1, np.nan], np.float32)}
    for provider in providers:
        options = ort.SessionOptions()
        options.register_custom_ops_library(library)
        session = ort.InferenceSession(loss_model(bad), options, providers=[provider])
        try:
            session.run(None, {"logits": bad["logits"], "targets": bad["targets"]})
            failed += 1
            print(f"FAIL {provider}: a NaN target was accepted")
        except Exception as e:  # noqa: BLE001
            if "targets[1] is NaN" not in str(e):
                failed += 1
                print(f"FAIL {provider}: unexpected error for a NaN target: {e}")
    print(f"check_ort_custom_ops: {'all within tolerance' if not failed else f'{failed} failure(s)'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
