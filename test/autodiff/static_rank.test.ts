// Ranks known before running, through rank-keeping and broadcasting ops; unknown past a Reshape.
import { describe, expect, test } from "bun:test";
import { GraphBuilder } from "../../src/onnx/builder.ts";
import { staticRanks } from "../../src/autodiff/static_rank.ts";

describe("staticRanks", () => {
  test("propagates through Conv, Relu, broadcast Add and Resize; stops at a Reshape to a computed shape", () => {
    const g = new GraphBuilder("ranks");
    const x = g.input("x", "float32", ["n", 3, 8, 8]);
    const w = g.initializer("w", "float32", new Float32Array(4 * 3 * 9), [4, 3, 3, 3]);
    const b = g.initializer("b", "float32", new Float32Array(4), [4, 1, 1]);
    const y = g.op1("Add", [g.op1("Relu", [g.op1("Conv", [x, w], { pads: [1, 1, 1, 1] })]), b]);
    const up = g.op1("Resize", [y, "", g.constant("float32", [1, 1, 2, 2], [4])], { mode: "nearest" });
    const flat = g.op1("Reshape", [up, g.op1("Shape", [b])]);
    const fixed = g.op1("Reshape", [up, g.ints([-1])]);
    const lifted = g.op1("Unsqueeze", [fixed, g.ints([0, 1])]);
    const after = g.op1("Relu", [flat]);
    g.output(after);
    const rank = staticRanks(g.model().graph!);
    expect([rank(x.name), rank(y.name), rank(up.name), rank(b.name)]).toEqual([4, 4, 4, 3]);
    expect([rank(fixed.name), rank(lifted.name)]).toEqual([1, 3]);
    expect(rank(flat.name)).toBeUndefined();
    expect(rank(after.name)).toBeUndefined();
  });
});
