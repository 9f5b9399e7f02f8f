// Several train steps per session run (a Loop over the train step): the same losses, parameters,
// optimizer state and reported scalars as one step per run, bit for bit; a diverging step inside a
// run is discarded with the steps before it kept; runs split where batch shapes change.
import { describe, expect, test } from "bun:test";
import { GraphBuilder } from "../../src/onnx/builder.ts";
import type { HostTensor } from "../../src/runtime/host_tensor.ts";
import { rankSortLossTerm } from "../../src/train/losses.ts";
import { buildMultiStep } from "../../src/train/multi_step.ts";
import { buildTrainStep, type TrainStepSpec } from "../../src/train/train_step.ts";
import { DivergenceError, Trainer } from "../../src/train/trainer.ts";
import { mulberry32 } from "../../src/util/random.ts";

/** x [B, 6] → Relu(x·W1 + b1) → ·W2 [B, 3] logits, trained with RS loss (its com.ranksort body). */
function spec(optimizer: TrainStepSpec["optimizer"]): TrainStepSpec {
  const rand = mulberry32(3);
  const r = (n: number, s: number) => Float32Array.from({ length: n }, () => (rand() * 2 - 1) * s);
  const g = new GraphBuilder("mlp");
  const x = g.input("x", "float32", ["B", 6]);
  const w1 = g.initializer("w1", "float32", r(48, 0.5), [6, 8]);
  const b1 = g.initializer("b1", "float32", r(8, 0.1), [8]);
  const w2 = g.initializer("w2", "float32", r(24, 0.5), [8, 3]);
  const h = g.op1("Relu", [g.op1("Add", [g.op1("MatMul", [x, w1]), b1])]);
  g.output(g.op1("MatMul", [h, w2]), "logits", "float32", ["B", 3]);
  return {
    model: g.model(),
    optimizer,
    loss: (t, outputs, input) => {
      const rs = rankSortLossTerm(t, outputs.logits!, input("targets", "float32", ["B", 3]));
      return { loss: rs.total, report: { ranking: rs.ranking, sorting: rs.sorting } };
    },
  };
}

function batches(count: number, rows = 10): Record<string, HostTensor>[] {
  const rand = mulberry32(11);
  return Array.from({ length: count }, () => ({
    x: { type: "float32", data: Float32Array.from({ length: rows * 6 }, () => rand() * 2 - 1), dims: [rows, 6] },
    targets: { type: "float32", data: Float32Array.from({ length: rows * 3 }, () => (rand() < 0.2 ? 0.2 + 0.8 * rand() : 0)), dims: [rows, 3] },
  }));
}

async function state(t: Trainer): Promise<Record<string, number[]>> {
  const c = await t.checkpoint();
  return Object.fromEntries(Object.entries(c.tensors).map(([k, v]) => [k, Array.from(v.data as Float32Array)]));
}

describe("several train steps per session run", () => {
  test("the graph: carried values in and out under their own names, per-step outputs", () => {
    const step = buildTrainStep(spec({ kind: "sgd", momentum: 0.9 }));
    const multi = buildMultiStep(step);
    const g = multi.model.graph!;
    expect(g.node.filter((n) => n.opType === "Loop")).toHaveLength(1);
    expect(Object.keys(multi.carriedInputs).sort()).toEqual(Object.keys(step.next).sort());
    expect(Object.keys(multi.stackedInputs).sort()).toEqual(["targets", "x"]);
    const stacked = g.input.find((v) => v.name === multi.stackedInputs.x)!.type!.value;
    expect(stacked.case === "tensorType" && stacked.value.shape!.dim.length).toBe(3);
    // No outer name shadows a name inside the body (ONNX forbids it).
    const body = g.node.find((n) => n.opType === "Loop")!.attribute[0]!.g!;
    const inner = new Set([...body.input.map((v) => v.name), ...body.node.flatMap((n) => n.output)]);
    for (const n of [...g.input.map((v) => v.name), ...g.node.flatMap((n) => n.output)]) expect(inner.has(n)).toBe(false);
  });

  for (const optimizer of [{ kind: "sgd", momentum: 0.9 }, { kind: "adamw" }] as const) {
    test(`${optimizer.kind}: 7 steps in runs of 3 equal 7 single-step runs bit for bit`, async () => {
      const one = await Trainer.create(spec(optimizer), { stepsPerRun: 1 });
      const three = await Trainer.create(spec(optimizer), { stepsPerRun: 3 });
      expect(three.stepsPerRun).toBe(3);
      const data = batches(7);
      const lrs = data.map((_, i) => 0.05 / (1 + i));
      const single: number[] = [];
      const reports: Record<string, number>[] = [];
      for (let i = 0; i < 7; i++) {
        single.push(await one.trainStep(data[i]!, lrs[i]!));
        reports.push(one.lastReport);
      }
      const multi = await three.trainSteps(data, lrs);
      expect(multi).toEqual(single);
      expect(three.stepReports).toEqual(reports);
      expect(three.step).toBe(7);
      expect(await state(three)).toEqual(await state(one));
      expect(new Set(single).size).toBe(7); // the steps did change the model
      expect(await three.lossAt(data[0]!)).toBe(await one.lossAt(data[0]!));
      expect(three.step).toBe(7);
    });
  }

  test("a step that diverges mid-run is discarded; the steps before it are kept", async () => {
    const data = batches(5);
    (data[3]!.x!.data as Float32Array)[4] = Number.NaN;
    const multi = await Trainer.create(spec({ kind: "sgd", momentum: 0.9 }), { stepsPerRun: 5 });
    const single = await Trainer.create(spec({ kind: "sgd", momentum: 0.9 }), { stepsPerRun: 1 });
    const lrs = [0.05, 0.05, 0.05, 0.05, 0.05];
    const err = await multi.trainSteps(data, lrs).catch((e) => e);
    expect(err).toBeInstanceOf(DivergenceError);
    expect((err as DivergenceError).step).toBe(4);
    expect((err as Error).message).toMatch(/^training diverged at step 4 \(learning rate 0.0500\): .*; the step was discarded$/);
    expect(multi.step).toBe(3);
    await single.trainSteps(data.slice(0, 3), lrs.slice(0, 3));
    expect(await state(multi)).toEqual(await state(single));
    // The trainer goes on from there.
    expect(Number.isFinite(await multi.trainStep(data[4]!, 0.05))).toBe(true);
    expect(multi.step).toBe(4);
  });

  test("a diverged first step changes nothing", async () => {
    const data = batches(2);
    (data[0]!.targets!.data as Float32Array)[0] = Number.POSITIVE_INFINITY;
    const t = await Trainer.create(spec({ kind: "adamw" }), { stepsPerRun: 2 });
    const before = await state(t);
    await expect(t.trainSteps(data, [0.01, 0.01])).rejects.toThrow(/diverged at step 1/);
    expect(t.step).toBe(0);
    expect(await state(t)).toEqual(before);
  });

  test("batches of another shape start a new run (an epoch's smaller last batch)", async () => {
    const data = [...batches(3), ...batches(1, 4)];
    const runs = await Trainer.create(spec({ kind: "sgd" }), { stepsPerRun: 4 });
    const one = await Trainer.create(spec({ kind: "sgd" }), { stepsPerRun: 1 });
    const lrs = [0.1, 0.1, 0.1, 0.1];
    expect(await runs.trainSteps(data, lrs)).toEqual(await one.trainSteps(data, lrs));
    expect(await state(runs)).toEqual(await state(one));
  });

  test("bad settings are refused in one line", async () => {
    await expect(Trainer.create(spec({ kind: "sgd" }), { stepsPerRun: 0 })).rejects.toThrow(/stepsPerRun: expected a whole number ≥ 1, got 0/);
    await expect(Trainer.create(spec({ kind: "sgd" }), { stepsPerRun: 2, lossKernels: "cpu" })).rejects.toThrow(/one step per run/);
    const t = await Trainer.create(spec({ kind: "sgd" }));
    expect(t.stepsPerRun).toBe(4); // small models on the CPU EP: several steps per run by default
    expect((await Trainer.create(spec({ kind: "sgd" }), { executionProvider: "wasm" })).stepsPerRun).toBe(1);
    await expect(t.trainSteps(batches(2), [0.1])).rejects.toThrow(/2 batches but 1 learning rates/);
  });
});
