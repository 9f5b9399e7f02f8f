// Tensors as the runtime hands them around: a dtype, data and dims, independent of which
// onnxruntime package produced them.

export type HostDType = "float32" | "float64" | "int64" | "int32" | "bool" | "uint8" | "int8";

export interface HostTensor {
  type: HostDType;
  data: Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array | Int8Array;
  dims: readonly number[];
}

export class RuntimeError extends Error {
  override name = "RuntimeError";
}

/** The part of onnxruntime's Tensor/InferenceSession API the runtime uses (node and web share it). */
export interface OrtModule {
  Tensor: new (type: string, data: unknown, dims: readonly number[]) => OrtTensor;
  InferenceSession: { create(model: Uint8Array, options?: object): Promise<OrtInferenceSession> };
}

export interface OrtTensor {
  type: string;
  data: unknown;
  dims: readonly number[];
  /** "cpu", or "gpu-buffer" for a tensor left on the WebGPU device (then `data` is unavailable). */
  location?: string;
  getData?(): Promise<unknown>;
}

export interface OrtInferenceSession {
  inputNames: readonly string[];
  outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}

export function toOrt(ort: OrtModule, t: HostTensor): OrtTensor {
  return new ort.Tensor(t.type === "bool" ? "bool" : t.type, t.data, [...t.dims]);
}

