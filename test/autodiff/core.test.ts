// The gradient-graph builder itself: accumulation over shared uses, integer paths, our ops through
// their Grad ops, zero gradients for unused parameters, and the error for a missing rule.
import { describe, expect, test } from "bun:test";
import * as ort from "onnxruntime-node";
import { buildGradientModel } from "../../src/autodiff/gradient_graph.ts";
import { GradientError } from "../../src/autodiff/rule.ts";
import { float, GraphBuilder } from "../../src/onnx/builder.ts";
import { encodeModel } from "../../src/onnx/model_codec.ts";
import { DOMAIN } from "../../src/ops/domain.ts";
import { functionsFor } from "../../src/ops/library.ts";
import { rankSortLoss } from "../../src/index.ts";
import { detectionCase } from "../../src/cases/synthetic.ts";
import { maxToleranceRatio } from "../../src/cases/tolerance.ts";

describe("buildGradientModel", () => {
  test("a missing rule names the op, the node and the path from the parameter", () => {
    const g = new GraphBuilder("g");
    const x = g.input("x", "float32", [3]);
    const w = g.initializer("w", "float32", [1, 2, 3], [3]);
    const h = g.op1("Mul", [x, w], {}, { name: "scale" });
    g.output(g.op1("Erf", [h], {}, { name: "erf_node" }), "y", "float32");
    expect(() => buildGradientModel(g.model(), { wrt: ["w"] })).toThrow(GradientError);
    expect(() => buildGradientModel(g.model(), { wrt: ["w"] })).toThrow(/no gradient rule for op Erf \(node "erf_node"\); it lies on the path w → mul → erf_node/);
  });

  test("integer and shape paths carry no gradient; unused parameters get zeros", async () => {
    const g = new GraphBuilder("g");
    const x = g.input("x", "float32", [2, 3]);
    const unused = g.initializer("unused", "float32", [5, 5], [2]);
    const flat = g.op1("Reshape", [x, g.op1("Concat", [g.op1("Shape", [x]), g.ints([1])], { axis: 0 })]);
    g.output(g.op1("Mul", [flat, flat]), "y", "float32");
    const grad = buildGradientModel(g.model(), { wrt: ["x", "unused"] });
    const s = await ort.InferenceSession.create(encodeModel(grad.model));
    const xv = new Float32Array([1, 2, 3, 4, 5, 6]);
    const out = await s.run({ x: new ort.Tensor("float32", xv, [2, 3]), [grad.cotangents.y!]: new ort.Tensor("float32", new Float32Array(6).fill(1), [2, 3, 1]) });
    expect(Array.from(out[grad.gradients.x!]!.data as Float32Array)).toEqual(Array.from(xv, (v) => 2 * v));
    expect(Array.from(out[grad.gradients.unused!]!.data as Float32Array)).toEqual([0, 0]);
  });

  test("a RankSortLoss node differentiates through RankSortLossGrad with both upstream weights", async () => {
    const c = detectionCase({ numel: 800, positives: 15, regime: "early", seed: 21 });
    const g = new GraphBuilder("rs", { "": 17, [DOMAIN]: 1 });
    for (const fn of functionsFor(["RankSortLoss", "RankSortLossGrad"])) g.addFunction(fn);
    const logits = g.input("logits", "float32", [800]);
    const targets = g.input("targets", "float32", [800]);
    const [rl, sl] = g.op("RankSortLoss", [logits, targets], { delta: float(0.5) }, { domain: DOMAIN, outputs: ["rl", "sl", "", ""] });
    g.output(rl!, "ranking", "float32", []);
    g.output(sl!, "sorting", "float32", []);
    const grad = buildGradientModel(g.model(), { wrt: ["logits"] });
    const s = await ort.InferenceSession.create(encodeModel(grad.model));
    const scalar = (v: number) => new ort.Tensor("float32", new Float32Array([v]), []);
    const out = await s.run({
      logits: new ort.Tensor("float32", c.logits, [800]),
      targets: new ort.Tensor("float32", c.targets, [800]),
      [grad.cotangents.ranking!]: scalar(1),
      [grad.cotangents.sorting!]: scalar(0.25),
    });
    const k = rankSortLoss(c.logits, c.targets);
    const expected = k.gradRanking.map((v, i) => v + 0.25 * k.gradSorting[i]!);
    expect(maxToleranceRatio(out[grad.gradients.logits!]!.data as Float32Array, expected)).toBeLessThanOrEqual(1);
  });

  test("unknown wrt or output names are refused", () => {
    const g = new GraphBuilder("g");
    const x = g.input("x", "float32", [1]);
    g.output(g.op1("Relu", [x]), "y", "float32");
    expect(() => buildGradientModel(g.model(), { wrt: ["nope"] })).toThrow(/"nope" is neither an initializer nor a graph input/);
    expect(() => buildGradientModel(g.model(), { outputs: ["z"] })).toThrow(/"z" is not a graph output/);
  });
});
