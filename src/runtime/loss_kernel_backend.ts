// A host-memory kernel backend over any loss backend (the CPU kernels by default): it reads a
// com.ranksort node's inputs and attributes, calls the loss backend, and produces exactly the
// outputs the op's signature declares.

import { getBackend, type LossBackend } from "../backends/index.ts";
import { AttributeType, type NodeProto } from "../onnx/proto.ts";
import { OPS, type OpName } from "../ops/domain.ts";
import { type HostTensor, type OrtModule, type OrtTensor, RuntimeError, toOrt } from "./host_tensor.ts";
import type { KernelBackend } from "./kernel_backend.ts";

export async function lossKernelBackend(lossBackendName: string): Promise<KernelBackend> {
  const backend = await getBackend(lossBackendName);
  return {
    name: lossBackendName,
    location: "cpu",
    async run(node: NodeProto, inputs: readonly OrtTensor[], ort: OrtModule): Promise<OrtTensor[]> {
      const values = new Map<string, HostTensor>();
      for (const [i, t] of inputs.entries()) values.set(node.input[i]!, await download(t));
      await runCustomNode(node, values, backend);
      return node.output.map((name) => (name ? toOrt(ort, values.get(name)!) : (undefined as unknown as OrtTensor)));
    },
  };
}

/** Host data of an onnxruntime tensor (GPU-resident tensors are downloaded). */
export async function download(t: OrtTensor): Promise<HostTensor> {
  const onDevice = t.location !== undefined && t.location !== "cpu" && t.location !== "cpu-pinned";
  const data = onDevice && t.getData ? await t.getData() : t.data;
  return { type: t.type as HostTensor["type"], data: data as HostTensor["data"], dims: [...t.dims] };
}

/** A com.ranksort node's float attributes, defaults filled in from the op's signature. */
export function nodeAttributes(node: NodeProto): Record<string, number> {
  const sig = OPS[node.opType as OpName];
  const out: Record<string, number> = { ...sig.attributes };
  for (const a of node.attribute) {
    if (a.type !== AttributeType.FLOAT) throw new RuntimeError(`node "${node.name}": attribute ${a.name} must be a float`);
    out[a.name] = a.f;
  }
  return out;
}

function float32Input(node: NodeProto, values: Map<string, HostTensor>, i: number): Float32Array {
  const name = node.input[i]!;
  const t = values.get(name);
  const sig = OPS[node.opType as OpName];
  if (!t) throw new RuntimeError(`node "${node.name}" (${node.opType}): input ${sig.inputs[i]} "${name}" has no value`);
  if (t.type !== "float32") throw new RuntimeError(`node "${node.name}" (${node.opType}): input ${sig.inputs[i]} "${name}" must be float32, got ${t.type}`);
  const wantScalar = sig.inputs[i]!.startsWith("d_");
  if (wantScalar ? t.data.length !== 1 : t.dims.length !== 1) {
    throw new RuntimeError(`node "${node.name}" (${node.opType}): input ${sig.inputs[i]} "${name}" must be ${wantScalar ? "a scalar" : "1-D"}, got dims [${t.dims.join(", ")}]`);
  }
  return t.data as Float32Array;
}

const scalar = (x: number): HostTensor => ({ type: "float32", data: new Float32Array([x]), dims: [] });
const vector = (x: Float32Array): HostTensor => ({ type: "float32", data: x, dims: [x.length] });
const scaled = (g: Float32Array, k: number) => g.map((v) => v * k);

/** Run `node` with `backend`, storing its outputs into `values`. */
export async function runCustomNode(node: NodeProto, values: Map<string, HostTensor>, backend: LossBackend): Promise<void> {
  const op = node.opType as OpName;
  if (!(op in OPS)) throw new RuntimeError(`node "${node.name}": unknown com.ranksort op ${node.opType}`);
  const attrs = nodeAttributes(node);
  const x = float32Input(node, values, 0);
  const t = float32Input(node, values, 1);
  let outputs: HostTensor[];
  switch (op) {
    case "RankSortLoss":
    case "RankSortLossGrad": {
      const r = await backend.rankSort(x, t, { delta: attrs.delta, eps: attrs.eps });
      if (op === "RankSortLoss") outputs = [scalar(r.rankingLoss), scalar(r.sortingLoss), vector(r.gradRanking), vector(r.gradSorting)];
      else {
        const dr = float32Input(node, values, 2)[0]!;
        const ds = float32Input(node, values, 3)[0]!;
        outputs = [vector(r.gradRanking.map((g, i) => dr * g + ds * r.gradSorting[i]!))];
      }
      break;
    }
    case "APLoss":
    case "APLossGrad": {
      const r = await backend.ap(x, t, { delta: attrs.delta });
      outputs = op === "APLoss" ? [scalar(r.loss), vector(r.grad)] : [vector(scaled(r.grad, float32Input(node, values, 2)[0]!))];
      break;
    }
    case "ALRPLoss":
    case "ALRPLossGrad": {
      const reg = float32Input(node, values, 2);
      const r = await backend.alrp(x, t, reg, { delta: attrs.delta, eps: attrs.eps });
      outputs =
        op === "ALRPLoss"
          ? [scalar(r.loss), vector(r.grad), vector(r.rank), { type: "int64", data: BigInt64Array.from(r.order, (v) => BigInt(v)), dims: [r.order.length] }]
          : [vector(scaled(r.grad, float32Input(node, values, 3)[0]!))];
      break;
    }
  }
  node.output.forEach((name, i) => {
    if (name) values.set(name, outputs[i]!);
  });
}
