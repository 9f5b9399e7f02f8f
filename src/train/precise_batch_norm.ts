// "Precise BN": BatchNorm's running statistics average the batch statistics of many earlier steps
// (momentum 0.03 in torchvision's MobileNets), so after fast training they no longer match the final
// weights and the exported model, which normalises with them, scores far below what it learned.
// Re-estimate them with the final weights: run the model in training-mode BN with momentum 0 (the
// "running" outputs are then the batch statistics) and combine the batches per channel:
// mean = E[batch mean], var = E[batch var] + Var[batch mean].

import { tensorProto, valueInfo } from "../onnx/builder.ts";
import { AttributeProtoSchema, AttributeType, clone, create, type ModelProto, ModelProtoSchema } from "../onnx/proto.ts";
import type { HostTensor } from "../runtime/host_tensor.ts";
import { type ExecutionProvider, RankSortSession } from "../runtime/session.ts";

/** BatchNormalization nodes whose mean and variance are initializers (what exporters produce). */
function batchNormStats(model: ModelProto): { mean: string; variance: string }[] {
  const inits = new Set(model.graph!.initializer.map((t) => t.name));
  return model.graph!.node.filter((n) => n.opType === "BatchNormalization" && inits.has(n.input[3] ?? "") && inits.has(n.input[4] ?? "")).map((n) => ({ mean: n.input[3]!, variance: n.input[4]! }));
}

/**
 * The inference model with its BatchNorm running statistics re-estimated on the batches (feeds for
 * the model's inputs; made only when the model has BatchNorm). Without either it comes back as is.
 */
export async function recalibrateBatchNorm(model: ModelProto, makeBatches: () => Record<string, HostTensor>[], executionProvider: ExecutionProvider = "cpu"): Promise<ModelProto> {
  const stats = batchNormStats(model);
  if (!stats.length) return model;
  const batches = makeBatches();
  if (!batches.length) return model;
  const probe = clone(ModelProtoSchema, model);
  const outputs: string[] = [];
  probe.graph!.node.forEach((n, i) => {
    if (n.opType !== "BatchNormalization") return;
    const attr = (name: string, v: { f?: number; i?: bigint }) =>
      create(AttributeProtoSchema, { name, type: v.f !== undefined ? AttributeType.FLOAT : AttributeType.INT, ...v });
    n.attribute = [...n.attribute.filter((a) => a.name !== "training_mode" && a.name !== "momentum"), attr("training_mode", { i: 1n }), attr("momentum", { f: 0 })];
    n.output = [n.output[0]!, `${n.input[3]}__batch_mean_${i}`, `${n.input[4]}__batch_var_${i}`];
    outputs.push(n.output[1]!, n.output[2]!);
  });
  probe.graph!.output.push(...outputs.map((o) => valueInfo(o, "float32")));
  const session = await RankSortSession.create(probe, { executionProvider });
  const sums = new Map<string, { s: Float64Array; s2: Float64Array; v: Float64Array }>();
  try {
    for (const feeds of batches) {
      const out = await session.run(feeds);
      probe.graph!.node.forEach((n) => {
        if (n.opType !== "BatchNormalization" || !out[n.output[1]!]) return;
        const m = out[n.output[1]!]!.data as Float32Array;
        const v = out[n.output[2]!]!.data as Float32Array;
        const acc = sums.get(n.input[3]!) ?? { s: new Float64Array(m.length), s2: new Float64Array(m.length), v: new Float64Array(m.length) };
        for (let c = 0; c < m.length; c++) {
          acc.s[c]! += m[c]!;
          acc.s2[c]! += m[c]! * m[c]!;
          acc.v[c]! += v[c]!;
        }
        sums.set(n.input[3]!, acc);
      });
    }
  } finally {
    await session.release();
  }
  const k = batches.length;
  const replaced = new Map<string, Float32Array>();
  for (const { mean, variance } of stats) {
    const acc = sums.get(mean);
    if (!acc) continue;
    const mu = Float32Array.from(acc.s, (s) => s / k);
    replaced.set(mean, mu);
    replaced.set(variance, Float32Array.from(acc.v, (v, c) => v / k + Math.max(0, acc.s2[c]! / k - mu[c]! * mu[c]!)));
  }
  const out = clone(ModelProtoSchema, model);
  out.graph!.initializer = out.graph!.initializer.map((t) => (replaced.has(t.name) ? tensorProto(t.name, "float32", replaced.get(t.name)!, t.dims.map(Number)) : t));
  return out;
}
