// Untying export ties: Identity-chained duplicates become separate parameters; real sharing stays.
import { describe, expect, test } from "bun:test";
import { untieExportTies } from "../../src/autodiff/untie.ts";
import { GraphBuilder } from "../../src/onnx/builder.ts";
import { Trainer } from "../../src/train/trainer.ts";
import { meanSquaredError } from "../../src/train/losses.ts";

function tiedModel() {
  const g = new GraphBuilder("tied");
  const x = g.input("x", "float32", [2, 2]);
  const shared = g.initializer("w_shared", "float32", [1, 0, 0, 1], [2, 2]);
  const zero = g.initializer("bias_a", "float32", [0, 0], [2]);
  // The exporter's tie: bias_b is an Identity of bias_a (their values happened to be equal).
  const biasB = g.op("Identity", [zero], {}, { outputs: ["bias_b"] })[0]!;
  const h1 = g.op1("Add", [g.op1("MatMul", [x, shared]), zero]);
  const h2 = g.op1("Add", [g.op1("MatMul", [h1, shared]), biasB]);
  g.output(h2, "y", "float32", [2, 2]);
  return g.model();
}

describe("untieExportTies", () => {
  test("an Identity of an initializer becomes its own initializer; direct sharing is kept", () => {
    const { model, untied } = untieExportTies(tiedModel());
    expect(untied).toEqual({ bias_b: "bias_a" });
    expect(model.graph!.node.some((n) => n.opType === "Identity" && n.input[0] === "bias_a")).toBe(false);
    expect(model.graph!.initializer.map((t) => t.name).sort()).toEqual(["bias_a", "bias_b", "w_shared"]);
  });

  test("training untied parameters moves them apart; the shared weight stays one parameter", async () => {
    const trainer = await Trainer.create({
      model: tiedModel(),
      optimizer: { kind: "sgd" },
      loss: (t, out, input) => meanSquaredError(t, out.y!, input("target", "float32", [2, 2])),
    });
    expect(trainer.graph.parameters.sort()).toEqual(["bias_a", "bias_b", "w_shared"]);
    const b = { x: { type: "float32" as const, data: new Float32Array([1, 2, 3, 4]), dims: [2, 2] }, target: { type: "float32" as const, data: new Float32Array([0, 1, 0, 1]), dims: [2, 2] } };
    for (let i = 0; i < 3; i++) await trainer.trainStep(b, 0.01);
    const p = await trainer.parameters();
    expect(Array.from(p.bias_a!.data as Float32Array)).not.toEqual(Array.from(p.bias_b!.data as Float32Array));
    const exported = await trainer.exportModel();
    expect(exported.graph!.initializer.map((t) => t.name).sort()).toEqual(["bias_a", "bias_b", "w_shared"]);
  });
});
