#!/usr/bin/env python3
"""Writes test/exactness/*.json(.gz): loss cases computed by the official Rank & Sort code.

Runs kemaloksuz/RankSortLoss's mmdet/models/losses/ranking_losses.py (classes RankSort, APLoss,
aLRPLoss) from a local checkout, unmodified on disk: its source is read, its `.cuda()` calls are
dropped in memory (the classes allocate their buffers on CUDA), and the classes run on CPU in
float32 with one thread. Nothing of the reference is copied into this repository; only its outputs.

  python3 test/support/make_exactness_cases.py /path/to/RankSortLoss [out_dir]

Needs torch (Debian's python3-torch 1.13 was used) and numpy. A developer tool, never a test
dependency: the tests read the files it wrote.
"""
import gzip, hashlib, json, os, subprocess, sys
import numpy as np
import torch

torch.set_num_threads(1)
torch.set_default_dtype(torch.float32)
REF_PATH = "mmdet/models/losses/ranking_losses.py"


def load_reference(repo):
    path = os.path.join(repo, REF_PATH)
    source = open(path, encoding="utf8").read()
    stripped = source.replace(".cuda()", "")
    namespace = {}
    exec(compile(stripped, path + " (.cuda() dropped)", "exec"), namespace)
    try:
        commit = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    except Exception:
        commit = None
    ref = {
        "repo": "kemaloksuz/RankSortLoss", "path": REF_PATH, "commit": commit,
        "sha256_of_source": hashlib.sha256(source.encode()).hexdigest(),
        "cuda_calls_dropped": source.count(".cuda()"), "torch": torch.__version__,
        "run": "CPU, float32, torch.set_num_threads(1)",
    }
    return namespace, ref


def f32(values):
    """Shortest decimal strings that read back as the same float32 values (JSON numbers)."""
    return [float(np.format_float_positional(np.float32(v), unique=True, trim="-")) for v in np.asarray(values, dtype=np.float32).ravel()]


def run_case(ref, name, loss, logits, targets, params, description, regression=None):
    logits = np.asarray(logits, dtype=np.float32)
    targets = np.asarray(targets, dtype=np.float32)
    x = torch.tensor(logits, requires_grad=True)
    t = torch.tensor(targets)
    case = {"name": name, "set": "repo", "loss": loss, "description": description, "params": params, "dtype": "float32"}
    if loss == "rank_sort":
        rl, sl = ref["RankSort"].apply(x, t, params["delta_RS"], params["eps"])
        rl.backward()
        outputs = {"ranking_loss": f32([rl.item()])[0], "sorting_loss": f32([sl.item()])[0], "grad": f32(x.grad.numpy())}
        case["grad_semantics"] = "grad = logits.grad after ranking_loss.backward(): the reference's backward returns saved_grad*out_grad1 (ranking and sorting terms) and ignores the sorting output's gradient."
    elif loss == "ap":
        l = ref["APLoss"].apply(x, t, params["delta"])
        l.backward()
        outputs = {"loss": f32([l.item()])[0], "grad": f32(x.grad.numpy())}
    else:
        r = torch.tensor(np.asarray(regression, dtype=np.float32))
        l, rank, order = ref["aLRPLoss"].apply(x, t, r, params["delta"], params["eps"])
        l.backward()
        outputs = {"loss": f32([l.item()])[0], "grad": f32(x.grad.numpy()), "rank": f32(rank.detach().numpy()), "order": [int(v) for v in order]}
        case["regression_losses"] = f32(regression)
    case["logits"] = f32(logits)
    case["targets"] = f32(targets)
    case["outputs"] = outputs
    return case


def detection_like(rng, n, positives, ties=False, ignored=0.0, binary=False):
    logits = rng.normal(-2.0, 1.5, n)
    targets = np.zeros(n)
    pos = rng.choice(n, positives, replace=False)
    logits[pos] += rng.uniform(0.5, 3.0, positives)
    targets[pos] = 1.0 if binary else rng.uniform(0.05, 1.0, positives)
    if ties:  # quantised logits and IoUs: equal values everywhere
        logits = np.round(logits * 4) / 4
        if not binary:
            targets[pos] = np.round(targets[pos] * 8) / 8 + 0.0625
    if ignored:
        neg = np.flatnonzero(targets == 0)
        targets[rng.choice(neg, int(ignored * len(neg)), replace=False)] = -1.0
    return logits, targets


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: make_exactness_cases.py CHECKOUT_OF_kemaloksuz/RankSortLoss [OUT_DIR]")
    repo = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "exactness")
    ns, ref = load_reference(repo)
    rng = np.random.default_rng(20260512)  # not the shared golden set's seed
    cases = []
    tiny_l = [1.5, 2.0, 0.5, 1.0, -0.25, 0.75, 0.25, -2.0]
    tiny_t = [0.0, 0.875, 0.0, 0.5, 0.0, 0.0, 0.75, 0.0]
    for d in (0.5, 0.0):
        cases.append(run_case(ns, f"rs_tiny_delta{d:g}", "rank_sort", tiny_l, tiny_t, {"delta_RS": d, "eps": 1e-10}, "3 positives with dyadic IoUs, 5 negatives, dyadic logits (the README's example)."))
    for d in (0.5, 0.25):
        l, t = detection_like(rng, 400, 12)
        cases.append(run_case(ns, f"rs_random_400_p12_delta{d:g}", "rank_sort", l, t, {"delta_RS": d, "eps": 1e-10}, "400 logits, 12 positives with IoU targets."))
    l, t = detection_like(rng, 300, 16, ties=True, ignored=0.3)
    cases.append(run_case(ns, "rs_ties_ignored_300_p16", "rank_sort", l, t, {"delta_RS": 0.5, "eps": 1e-10}, "Tied logits and IoUs; 30% of negatives ignored (target -1)."))
    l, t = detection_like(rng, 1200, 20)
    cases.append(run_case(ns, "rs_det_300x4_p20", "rank_sort", l, t, {"delta_RS": 0.5, "eps": 1e-10}, "Detection-shaped: 300 anchors x 4 classes, 20 positives."))
    ap_t = [0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0]
    cases.append(run_case(ns, "ap_tiny_delta1", "ap", tiny_l, ap_t, {"delta": 1.0}, "3 positives, 5 negatives."))
    for d in (1.0, 0.5):
        l, t = detection_like(rng, 400, 12, binary=True)
        cases.append(run_case(ns, f"ap_random_400_p12_delta{d:g}", "ap", l, t, {"delta": d}, "400 logits, 12 positives."))
    cases.append(run_case(ns, "alrp_tiny_delta1", "alrp", tiny_l, ap_t, {"delta": 1.0, "eps": 1e-5}, "3 positives, 5 negatives.", regression=[0.25, 0.5, 0.125]))
    l, t = detection_like(rng, 400, 12, binary=True, ignored=0.2)
    cases.append(run_case(ns, "alrp_random_400_p12_delta1", "alrp", l, t, {"delta": 1.0, "eps": 1e-5}, "400 logits, 12 positives, 20% of negatives ignored.", regression=rng.uniform(0.05, 1.0, 12)))
    os.makedirs(out, exist_ok=True)
    manifest = {"ref": ref, "cases": []}
    for c in cases:
        c["ref"] = ref
        text = json.dumps(c, separators=(",", ":")) + "\n"
        name = c["name"] + (".json.gz" if len(text) > 8000 else ".json")
        data = gzip.compress(text.encode(), mtime=0) if name.endswith(".gz") else text.encode()
        open(os.path.join(out, name), "wb").write(data)
        manifest["cases"].append({"file": name, "loss": c["loss"], "params": c["params"], "numel": len(c["logits"]), "bytes": len(data)})
    open(os.path.join(out, "MANIFEST.json"), "w").write(json.dumps(manifest, indent=1) + "\n")
    print(f"wrote {len(cases)} cases, {sum(c['bytes'] for c in manifest['cases'])} bytes, to {out}")


if __name__ == "__main__":
    main()
