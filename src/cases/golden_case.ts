// Loss cases in the golden format: fields and parsing (no file system: usable in browsers too).

export type LossKind = "rank_sort" | "ap" | "alrp";

export interface LossCase {
  name: string;
  loss: LossKind;
  /** rank_sort: delta_RS, eps; ap: delta; alrp: delta, eps. */
  params: { delta_RS?: number; delta?: number; eps?: number };
  logits: Float32Array;
  targets: Float32Array;
  regressionLosses?: Float32Array;
  /** Reference outputs, when the file carries them. */
  outputs?: Record<string, unknown>;
}

export class CaseFormatError extends Error {
  override name = "CaseFormatError";
}

function numbers(path: string, field: string, value: unknown): Float32Array {
  if (!Array.isArray(value)) throw new CaseFormatError(`${path}: field "${field}" must be an array of numbers`);
  const out = new Float32Array(value.length);
  for (let i = 0; i < value.length; i++) {
    const v = value[i];
    if (typeof v !== "number") throw new CaseFormatError(`${path}: ${field}[${i}] is ${JSON.stringify(v)}, expected a number`);
    out[i] = v;
  }
  return out;
}

/** Parse a case from its decoded JSON object; `path` only labels errors. */
export function parseCase(json: unknown, path = "<case>"): LossCase {
  if (typeof json !== "object" || json === null) throw new CaseFormatError(`${path}: expected a JSON object`);
  const o = json as Record<string, unknown>;
  const loss = o.loss;
  if (loss !== "rank_sort" && loss !== "ap" && loss !== "alrp") {
    throw new CaseFormatError(`${path}: field "loss" is ${JSON.stringify(loss)}, expected "rank_sort", "ap" or "alrp"`);
  }
  const params = (o.params ?? {}) as LossCase["params"];
  if (typeof params !== "object" || params === null || Array.isArray(params)) throw new CaseFormatError(`${path}: field "params" must be an object`);
  for (const [k, v] of Object.entries(params)) if (typeof v !== "number") throw new CaseFormatError(`${path}: params.${k} is ${JSON.stringify(v)}, expected a number`);
  const c: LossCase = {
    name: typeof o.name === "string" ? o.name : path,
    loss,
    params,
    logits: numbers(path, "logits", o.logits),
    targets: numbers(path, "targets", o.targets),
  };
  if (loss === "alrp") c.regressionLosses = numbers(path, "regression_losses", o.regression_losses);
  if (typeof o.outputs === "object" && o.outputs !== null) c.outputs = o.outputs as Record<string, unknown>;
  return c;
}
