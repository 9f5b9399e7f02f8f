// `ranksort vjp <model.onnx> --inputs in.json --cotangents ct.json [--out grads.json] [--ep cpu]`

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { buildGradientModel } from "../../autodiff/gradient_graph.ts";
import { encodeModel } from "../../onnx/model_codec.ts";
import { readModel } from "../../onnx/model_io.ts";
import { withFunctionBodies, RankSortSession, type ExecutionProvider } from "../../runtime/session.ts";
import type { HostTensor } from "../../runtime/host_tensor.ts";
import { writeFileAtomic } from "../../util/atomic_write.ts";
import { UsageError } from "../usage_error.ts";

export const vjpUsage = `ranksort vjp <model.onnx> --inputs in.json --cotangents ct.json [--out grads.json] [--ep cpu|wasm|webgpu]

The gradient of Σ_k output_k · cotangent_k with respect to every float initializer and float graph
input. JSON files map names to {"dims": [...], "data": [...]}: --inputs by graph input name (float32
unless "dtype" says int64/float64/…), --cotangents by output name (outputs without a cotangent do
not contribute). Prints (or writes, atomically) {"<name>": {"dims": [...], "data": [...]}}.
For an initializer used by several nodes the gradient is the sum over its uses.`;

type JsonTensor = { dims: number[]; data: number[]; dtype?: string };

function readTensors(path: string, what: string): Record<string, JsonTensor> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new UsageError(`${what} ${path}: ${(e as Error).message}`);
  }
  if (typeof json !== "object" || json === null) throw new UsageError(`${what} ${path}: expected an object of {dims, data} tensors`);
  for (const [name, t] of Object.entries(json as Record<string, JsonTensor>)) {
    if (!Array.isArray(t?.dims) || !Array.isArray(t?.data)) throw new UsageError(`${what} ${path}: "${name}" needs "dims" and "data" arrays`);
    const n = t.dims.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new UsageError(`${what} ${path}: "${name}" has ${t.data.length} values for dims [${t.dims.join(", ")}] (${n} expected)`);
  }
  return json as Record<string, JsonTensor>;
}

function toHost(t: JsonTensor): HostTensor {
  const dtype = (t.dtype ?? "float32") as HostTensor["type"];
  const data =
    dtype === "int64" ? BigInt64Array.from(t.data, (v) => BigInt(v))
    : dtype === "float64" ? Float64Array.from(t.data)
    : dtype === "int32" ? Int32Array.from(t.data)
    : Float32Array.from(t.data);
  return { type: dtype, data, dims: t.dims };
}

export async function vjpCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { inputs: { type: "string" }, cotangents: { type: "string" }, out: { type: "string" }, ep: { type: "string", default: "cpu" } },
  });
  if (positionals.length !== 1 || !values.inputs || !values.cotangents) throw new UsageError(`expected a model, --inputs and --cotangents\n\n${vjpUsage}`);
  const model = withFunctionBodies(readModel(positionals[0]!));
  const inputs = readTensors(values.inputs, "--inputs");
  const cotangents = readTensors(values.cotangents, "--cotangents");
  const outputNames = model.graph!.output.map((o) => o.name);
  for (const name of Object.keys(cotangents)) if (!outputNames.includes(name)) throw new UsageError(`--cotangents: "${name}" is not an output of the model (outputs: ${outputNames.join(", ")})`);
  const grad = buildGradientModel(model, { outputs: Object.keys(cotangents) });
  const session = await RankSortSession.create(encodeModel(grad.model), { executionProvider: values.ep as ExecutionProvider });
  const feeds: Record<string, HostTensor> = {};
  for (const name of session.inputNames) {
    const cotangentOf = Object.entries(grad.cotangents).find(([, c]) => c === name)?.[0];
    const t = cotangentOf ? cotangents[cotangentOf] : inputs[name];
    if (!t) throw new UsageError(`--inputs: missing graph input "${name}"`);
    feeds[name] = toHost(t);
  }
  const out = await session.run(feeds);
  const result: Record<string, { dims: number[]; data: number[] }> = {};
  for (const [name, gradName] of Object.entries(grad.gradients)) {
    const t = out[gradName]!;
    result[name] = { dims: [...t.dims], data: Array.from(t.data as Float32Array, Number) };
  }
  const text = JSON.stringify(result) + "\n";
  if (values.out) writeFileAtomic(values.out, text);
  else process.stdout.write(text);
  return 0;
}
