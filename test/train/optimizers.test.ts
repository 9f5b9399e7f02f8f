// The optimizer updates match PyTorch's formulas step by step (SGD with momentum, Nesterov and
// weight decay; AdamW with bias correction), and clipping scales by the global norm.
import { describe, expect, test } from "bun:test";
import { GraphBuilder } from "../../src/onnx/builder.ts";
import { Trainer } from "../../src/train/trainer.ts";
import { buildTrainStep, type OptimizerSpec } from "../../src/train/train_step.ts";

const W0 = [0.5, -1.2, 2.0];
const TARGET = [1, 1, -1];

/**
 * L = ½ Σ (w − target)²: the gradient is w − target. `dims` [3, 1, 1] is a 1×1-convolution-like
 * shape, which the train step updates through a flat view.
 */
function quadratic(dims: number[] = [3]) {
  const g = new GraphBuilder("q");
  const t = g.input("target", "float32", dims);
  const w = g.initializer("w", "float32", W0, dims);
  const d = g.op1("Sub", [w, t]);
  g.output(g.op1("Mul", [g.op1("ReduceSum", [g.op1("Mul", [d, d])], { keepdims: 0 }), g.scalar("float32", 0.5)]), "l", "float32", []);
  return g.model();
}

function reference(opt: OptimizerSpec, steps: number, lr: number, clip?: number): number[] {
  let w = [...W0];
  let m = [0, 0, 0];
  let v = [0, 0, 0];
  for (let s = 1; s <= steps; s++) {
    let grad = w.map((x, i) => x - TARGET[i]!);
    if (clip !== undefined) {
      const norm = Math.sqrt(grad.reduce((a, b) => a + b * b, 0));
      const k = Math.min(1, clip / (norm + 1e-6));
      grad = grad.map((x) => x * k);
    }
    if (opt.kind === "sgd") {
      const wd = opt.weightDecay ?? 0;
      grad = grad.map((x, i) => x + wd * w[i]!);
      const mu = opt.momentum ?? 0;
      m = m.map((b, i) => mu * b + grad[i]!);
      const dir = opt.nesterov ? grad.map((x, i) => x + mu * m[i]!) : mu ? m : grad;
      w = w.map((x, i) => x - lr * dir[i]!);
    } else {
      const [b1, b2, eps, wd] = [opt.beta1 ?? 0.9, opt.beta2 ?? 0.999, opt.eps ?? 1e-8, opt.weightDecay ?? 0];
      w = w.map((x) => x - lr * wd * x);
      m = m.map((a, i) => b1 * a + (1 - b1) * grad[i]!);
      v = v.map((a, i) => b2 * a + (1 - b2) * grad[i]! ** 2);
      w = w.map((x, i) => x - (lr * (m[i]! / (1 - b1 ** s))) / (Math.sqrt(v[i]! / (1 - b2 ** s)) + eps));
    }
  }
  return w;
}

const cases: [string, OptimizerSpec, number | undefined][] = [
  ["SGD", { kind: "sgd" }, undefined],
  ["SGD momentum + weight decay", { kind: "sgd", momentum: 0.9, weightDecay: 0.01 }, undefined],
  ["SGD Nesterov", { kind: "sgd", momentum: 0.8, nesterov: true }, undefined],
  ["AdamW", { kind: "adamw", weightDecay: 0.05 }, undefined],
  ["AdamW with clipping", { kind: "adamw", beta1: 0.8, beta2: 0.99 }, 0.5],
];

describe("optimizer updates", () => {
  for (const dims of [[3], [3, 1, 1]]) {
    for (const [name, opt, clip] of cases) {
      test(`${name}, parameter [${dims}]`, async () => {
        const trainer = await Trainer.create({ model: quadratic(dims), optimizer: opt, clipGradNorm: clip, loss: (_t, out) => out.l! });
        const target = { type: "float32" as const, data: Float32Array.from(TARGET), dims };
        for (let s = 0; s < 5; s++) await trainer.trainStep({ target }, 0.1);
        const w = (await trainer.parameters()).w!;
        expect(w.dims).toEqual(dims);
        const expected = reference(opt, 5, 0.1, clip);
        Array.from(w.data as Float32Array).forEach((x, i) => expect(Math.abs(x - expected[i]!)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(expected[i]!))));
        // Optimizer state keeps the parameter's shape too, step after step (checkpoints, resumes).
        const tensors = Object.entries((await trainer.checkpoint()).tensors);
        expect(tensors.length).toBe(1 + (opt.kind === "adamw" ? 2 : opt.momentum ? 1 : 0));
        for (const [name, tensor] of tensors) expect({ name, dims: tensor.dims }).toEqual({ name, dims });
      });
    }
  }
});

describe("train-step graph", () => {
  for (const optimizer of [{ kind: "sgd" }, { kind: "sgd", momentum: 0.9, nesterov: true }, { kind: "adamw" }] as OptimizerSpec[]) {
    test(`${optimizer.kind}${"momentum" in optimizer ? " with momentum" : ""}: each updated value is written by the node that computes it (no Identity copy)`, () => {
      const graph = buildTrainStep({ model: quadratic(), optimizer, loss: (_t, outs) => outs.l! });
      const producer = new Map(graph.model.graph!.node.flatMap((n) => n.output.map((o) => [o, n.opType] as const)));
      const next = Object.values(graph.next);
      expect(next.length).toBe(optimizer.kind === "adamw" ? 3 : "momentum" in optimizer ? 2 : 1);
      for (const name of next) expect(producer.get(name)).not.toBe("Identity");
    });
  }
});
