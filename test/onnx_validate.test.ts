// The validator names the node and the problem for each kind of broken graph.
import { describe, expect, test } from "bun:test";
import { float, GraphBuilder } from "../src/onnx/builder.ts";
import { assertValidModel, ModelValidationError, validateModel } from "../src/onnx/validate.ts";
import { DOMAIN } from "../src/ops/domain.ts";
import { functionsFor } from "../src/ops/library.ts";
import { standaloneLossModel } from "../src/ops/standalone_model.ts";
import { NodeProtoSchema, create } from "../src/onnx/proto.ts";

function messages(model: ReturnType<GraphBuilder["model"]>): string[] {
  return validateModel(model).map((i) => `${i.node ?? i.where}: ${i.message}`);
}

describe("validateModel", () => {
  test("our standalone models and their function bodies are valid", () => {
    for (const op of ["RankSortLoss", "APLoss", "ALRPLoss"] as const) expect(messages(standaloneLossModel(op))).toEqual([]);
  });

  test("a dangling input names the node and the input", () => {
    const g = new GraphBuilder("g");
    const x = g.input("x", "float32", [2]);
    g.output(g.op1("Add", [x, "ghost"], {}, { name: "adder" }), "y", "float32");
    expect(messages(g.model()).join("\n")).toMatch(/adder: input 1 "ghost" is not produced before this node/);
  });

  test("a domain without an opset import", () => {
    const g = new GraphBuilder("g", { "": 17, "com.other": 1 });
    const x = g.input("x", "float32", [2]);
    g.output(g.op1("Thing", [x], {}, { domain: "com.other", name: "thing" }), "y");
    const model = g.model();
    model.opsetImport = model.opsetImport.filter((o) => o.domain !== "com.other");
    expect(messages(model).join("\n")).toMatch(/thing: Thing is in domain "com.other", which has no opset import here/);
  });

  test("a type clash between operands", () => {
    const g = new GraphBuilder("g");
    const x = g.input("x", "float32", [2]);
    const d = g.input("d", "float64", [2]);
    g.output(g.op1("Mul", [x, d], {}, { name: "mixed" }), "y");
    expect(messages(g.model()).join("\n")).toMatch(/mixed: type clash in Mul: input 0 "x" is float32 but input 1 "d" is float64/);
    const h = new GraphBuilder("h");
    const a = h.input("a", "float32", [2]);
    const c = h.op1("Cast", [a], { to: 7 }, { name: "to_int" });
    h.output(h.op1("Add", [a, c], {}, { name: "add_int" }), "y");
    expect(messages(h.model()).join("\n")).toMatch(/add_int: type clash in Add: .* is float32 but input 1 .* is int64/);
  });

  test("a value produced twice", () => {
    const g = new GraphBuilder("g");
    const x = g.input("x", "float32", [2]);
    const y = g.op1("Relu", [x], {}, { name: "first" });
    g.nodes.push(create(NodeProtoSchema, { opType: "Relu", name: "second", input: [x.name], output: [y.name] }));
    g.output(y, y.name);
    expect(messages(g.model()).join("\n")).toMatch(/second: output "relu" is already produced by node "first"/);
  });

  test("unknown com.ranksort op, missing body, wrong version, wrong dtype and rank, missing outputs", () => {
    const g = new GraphBuilder("g", { "": 17, [DOMAIN]: 1 });
    for (const fn of functionsFor(["RankSortLoss"])) g.addFunction(fn);
    const l = g.input("l", "float32", ["N"]);
    const t64 = g.input("t64", "float64", ["N"]);
    const m = g.input("m", "float32", [2, 3]);
    g.op("RankSortLos", [l, l], {}, { domain: DOMAIN, name: "typo" });
    g.op("APLoss", [l, l], {}, { domain: DOMAIN, outputs: 2, name: "no_body" });
    g.op("RankSortLoss", [l, t64], { delta: float(0.5) }, { domain: DOMAIN, outputs: 4, name: "bad_dtype" });
    g.op("RankSortLoss", [m, l], {}, { domain: DOMAIN, outputs: 4, name: "bad_rank" });
    g.op("RankSortLoss", [l, l], {}, { domain: DOMAIN, outputs: 2, name: "two_outputs" });
    g.op("RankSortLoss", [l, l], { delta: float(-1) }, { domain: DOMAIN, outputs: 4, name: "neg_delta" });
    const model = g.model();
    const text = messages(model).join("\n");
    expect(text).toMatch(/typo: unknown com.ranksort op "RankSortLos"/);
    expect(text).toMatch(/no_body: com.ranksort op APLoss has no function body in this model/);
    expect(text).toMatch(/bad_dtype: RankSortLoss input 1 \(targets\) "t64" must be float32, got float64/);
    expect(text).toMatch(/bad_rank: RankSortLoss input 0 \(logits\) "m" must have rank 1, got rank 2/);
    expect(text).toMatch(/two_outputs: RankSortLoss must name all 4 outputs/);
    expect(text).toMatch(/neg_delta: RankSortLoss attribute delta must be >= 0, got -1/);
    model.opsetImport.find((o) => o.domain === DOMAIN)!.version = 2n;
    expect(messages(model).join("\n")).toMatch(/imports com.ranksort version 2; this ranksort provides version 1/);
  });

  test("assertValidModel throws one error listing every issue", () => {
    const g = new GraphBuilder("g");
    g.output({ name: "nothing" }, "nothing", "float32");
    expect(() => assertValidModel(g.model())).toThrow(ModelValidationError);
    expect(() => assertValidModel(g.model())).toThrow(/graph output "nothing" is not produced/);
  });
});
