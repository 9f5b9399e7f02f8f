// A validator that reports a broken graph with the node at fault: dangling inputs, values produced
// twice, graph outputs nothing produces, domains without an opset import, unknown com.ranksort ops or
// versions, wrong dtypes or ranks on our ops' inputs, and dtype clashes between operands that ONNX
// requires to match.

import { DOMAIN, DOMAIN_VERSION, OPS, type OpName } from "../ops/domain.ts";
import { type DTypeName, dtypeName } from "./builder.ts";
import { AttributeType, type FunctionProto, type GraphProto, type ModelProto, type NodeProto, type ValueInfoProto } from "./proto.ts";

export interface ValidationIssue {
  /** Where: "graph main", "function com.ranksort.RankSortLoss", plus the node name when there is one. */
  where: string;
  node?: string;
  message: string;
}

export class ModelValidationError extends Error {
  override name = "ModelValidationError";
  constructor(readonly issues: ValidationIssue[]) {
    super(`invalid ONNX model:\n${issues.map((i) => `  - ${i.where}${i.node ? `, node "${i.node}"` : ""}: ${i.message}`).join("\n")}`);
  }
}

/** Ops whose listed inputs must share one dtype (the ONNX type constraint T). */
const SAME_TYPE_INPUTS: Record<string, number[] | "all"> = {
  Add: "all", Sub: "all", Mul: "all", Div: "all", Max: "all", Min: "all", Sum: "all", Mean: "all",
  Equal: "all", Less: "all", LessOrEqual: "all", Greater: "all", GreaterOrEqual: "all", And: "all", Or: "all",
  Concat: "all", MatMul: "all", Gemm: [0, 1], Where: [1, 2], Clip: "all",
};
const BOOL_OUTPUT = new Set(["Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or", "Not", "Xor", "IsNaN", "IsInf"]);
const INT64_OUTPUT = new Set(["Shape", "Size", "NonZero", "ArgMax", "ArgMin"]);
/** Ops whose first output has the dtype of their first input. */
const SAME_AS_FIRST = new Set([
  "Add", "Sub", "Mul", "Div", "Max", "Min", "Neg", "Abs", "Relu", "Sigmoid", "Tanh", "Exp", "Log", "Sqrt", "Clip",
  "Reshape", "Transpose", "Unsqueeze", "Squeeze", "Flatten", "Concat", "Gather", "Slice", "Identity", "ReduceSum",
  "ReduceMean", "ReduceMax", "ReduceMin", "CumSum", "MatMul", "Gemm", "Conv", "Softmax", "Expand", "Tile", "ScatterND",
]);

function tensorDtype(v: ValueInfoProto): DTypeName | undefined {
  const t = v.type?.value;
  return t?.case === "tensorType" ? dtypeName(t.value.elemType) : undefined;
}

function tensorRank(v: ValueInfoProto): number | undefined {
  const t = v.type?.value;
  return t?.case === "tensorType" && t.value.shape ? t.value.shape.dim.length : undefined;
}

interface Scope {
  defined: Set<string>;
  dtypes: Map<string, DTypeName>;
  ranks: Map<string, number>;
  producer: Map<string, string>;
  parent?: Scope;
}

function isDefined(scope: Scope | undefined, name: string): boolean {
  for (let s = scope; s; s = s.parent) if (s.defined.has(name)) return true;
  return false;
}

function lookup<T>(scope: Scope | undefined, pick: (s: Scope) => Map<string, T>, name: string): T | undefined {
  for (let s = scope; s; s = s.parent) {
    const v = pick(s).get(name);
    if (v !== undefined) return v;
  }
  return undefined;
}

export function validateModel(model: ModelProto): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const imports = new Map(model.opsetImport.map((o) => [o.domain === "ai.onnx" ? "" : o.domain, Number(o.version)]));
  const functions = new Map(model.functions.map((f) => [`${f.domain}::${f.name}`, f]));
  if (!imports.has("")) issues.push({ where: "model", message: "no opset import for the default ONNX domain" });
  const ourVersion = imports.get(DOMAIN);
  if (ourVersion !== undefined && ourVersion !== DOMAIN_VERSION) {
    issues.push({ where: "model", message: `imports ${DOMAIN} version ${ourVersion}; this ranksort provides version ${DOMAIN_VERSION}` });
  }
  if (!model.graph) {
    issues.push({ where: "model", message: "has no graph" });
    return issues;
  }
  checkGraph(model.graph, `graph ${model.graph.name || "(unnamed)"}`, imports, functions, issues, undefined);
  for (const f of model.functions) checkFunction(f, functions, issues);
  return issues;
}

export function assertValidModel(model: ModelProto): void {
  const issues = validateModel(model);
  if (issues.length) throw new ModelValidationError(issues);
}

function checkFunction(f: FunctionProto, functions: Map<string, FunctionProto>, issues: ValidationIssue[]): void {
  const where = `function ${f.domain}.${f.name}`;
  const imports = new Map(f.opsetImport.map((o) => [o.domain === "ai.onnx" ? "" : o.domain, Number(o.version)]));
  const scope: Scope = { defined: new Set(f.input), dtypes: new Map(), ranks: new Map(), producer: new Map() };
  checkNodes(f.node, where, imports, functions, issues, scope);
  for (const out of f.output) if (!scope.defined.has(out)) issues.push({ where, message: `output "${out}" is not produced by any node` });
}

function checkGraph(
  g: GraphProto,
  where: string,
  imports: Map<string, number>,
  functions: Map<string, FunctionProto>,
  issues: ValidationIssue[],
  parent: Scope | undefined,
): void {
  const scope: Scope = { defined: new Set(), dtypes: new Map(), ranks: new Map(), producer: new Map(), parent };
  for (const v of g.input) {
    scope.defined.add(v.name);
    const d = tensorDtype(v);
    if (d) scope.dtypes.set(v.name, d);
    const r = tensorRank(v);
    if (r !== undefined) scope.ranks.set(v.name, r);
  }
  for (const t of g.initializer) {
    const d = dtypeName(t.dataType);
    const declared = scope.dtypes.get(t.name);
    if (declared && d && declared !== d) issues.push({ where, message: `initializer "${t.name}" is ${d} but the graph input of that name is declared ${declared}` });
    scope.defined.add(t.name);
    if (d) scope.dtypes.set(t.name, d);
    scope.ranks.set(t.name, t.dims.length);
  }
  checkNodes(g.node, where, imports, functions, issues, scope);
  for (const out of g.output) {
    if (!isDefined(scope, out.name)) issues.push({ where, message: `graph output "${out.name}" is not produced by any node, input or initializer` });
    const declared = tensorDtype(out);
    const known = lookup(scope, (s) => s.dtypes, out.name);
    if (declared && known && declared !== known) issues.push({ where, message: `graph output "${out.name}" is declared ${declared} but computed as ${known}` });
  }
}

function checkNodes(
  nodes: readonly NodeProto[],
  where: string,
  imports: Map<string, number>,
  functions: Map<string, FunctionProto>,
  issues: ValidationIssue[],
  scope: Scope,
): void {
  const seenNames = new Set<string>();
  for (const node of nodes) {
    const name = node.name || `${node.opType}#${nodes.indexOf(node)}`;
    const report = (message: string) => issues.push({ where, node: name, message });
    if (node.name) {
      if (seenNames.has(node.name)) report(`another node in this graph has the same name (onnxruntime refuses duplicate node names)`);
      seenNames.add(node.name);
    }
    const domain = node.domain === "ai.onnx" ? "" : node.domain;
    if (!imports.has(domain)) report(`${node.opType} is in domain "${domain || "ai.onnx"}", which has no opset import here`);
    if (domain === DOMAIN) {
      if (!(node.opType in OPS)) report(`unknown ${DOMAIN} op "${node.opType}"; known: ${Object.keys(OPS).join(", ")}`);
      else if (!functions.has(`${DOMAIN}::${node.opType}`)) report(`${DOMAIN} op ${node.opType} has no function body in this model (attach it with functionsFor)`);
      else checkOurOp(node.opType as OpName, node, scope, report);
    } else if (domain !== "" && domain !== "ai.onnx.ml" && !functions.has(`${domain}::${node.opType}`) && !domain.startsWith("com.microsoft")) {
      report(`op ${domain}.${node.opType} is neither a standard op nor a function of this model`);
    }
    node.input.forEach((input, i) => {
      if (input !== "" && !isDefined(scope, input)) report(`input ${i} "${input}" is not produced before this node (dangling input, or nodes out of order)`);
    });
    checkTypes(node, scope, report);
    for (const attr of node.attribute) {
      if (attr.type === AttributeType.GRAPH && attr.g) checkGraph(attr.g, `${where} › ${name}.${attr.name}`, imports, functions, issues, scope);
      for (const g of attr.graphs) checkGraph(g, `${where} › ${name}.${attr.name}`, imports, functions, issues, scope);
    }
    for (const out of node.output) {
      if (out === "") continue;
      const previous = scope.producer.get(out);
      if (previous !== undefined || scope.defined.has(out)) {
        report(`output "${out}" is already produced by ${previous !== undefined ? `node "${previous}"` : "a graph input or initializer"}`);
      }
      scope.defined.add(out);
      scope.producer.set(out, name);
    }
  }
}

function checkTypes(node: NodeProto, scope: Scope, report: (m: string) => void): void {
  const dtypeOf = (n: string) => (n === "" ? undefined : lookup(scope, (s) => s.dtypes, n));
  const rule = SAME_TYPE_INPUTS[node.opType];
  if (rule && (node.domain === "" || node.domain === "ai.onnx")) {
    const idx = rule === "all" ? node.input.map((_, i) => i) : rule;
    let first: { i: number; d: DTypeName } | undefined;
    for (const i of idx) {
      const d = dtypeOf(node.input[i] ?? "");
      if (!d) continue;
      if (!first) first = { i, d };
      else if (d !== first.d) {
        report(`type clash in ${node.opType}: input ${first.i} "${node.input[first.i]}" is ${first.d} but input ${i} "${node.input[i]}" is ${d}`);
        break;
      }
    }
  }
  const out = node.output[0];
  if (!out) return;
  let d: DTypeName | undefined;
  if (node.opType === "Cast") {
    const to = node.attribute.find((a) => a.name === "to");
    d = to ? dtypeName(Number(to.i)) : undefined;
  } else if (node.opType === "Constant") {
    const v = node.attribute.find((a) => a.name === "value")?.t;
    d = v ? dtypeName(v.dataType) : node.attribute.some((a) => a.name.startsWith("value_float")) ? "float32" : node.attribute.some((a) => a.name.startsWith("value_int")) ? "int64" : undefined;
  } else if (BOOL_OUTPUT.has(node.opType)) d = "bool";
  else if (INT64_OUTPUT.has(node.opType)) d = "int64";
  else if (SAME_AS_FIRST.has(node.opType)) d = dtypeOf(node.input[0] ?? "");
  else if (node.opType === "Where") d = dtypeOf(node.input[1] ?? "");
  if (d) scope.dtypes.set(out, d);
}

function checkOurOp(op: OpName, node: NodeProto, scope: Scope, report: (m: string) => void): void {
  const sig = OPS[op];
  if (op === "StopGradient") {
    if (node.input.length !== 1 || node.output.length !== 1) report("StopGradient takes one input and gives one output");
    return;
  }
  if (node.input.length !== sig.inputs.length) report(`${op} takes ${sig.inputs.length} inputs (${sig.inputs.join(", ")}), got ${node.input.length}`);
  if (node.output.length !== sig.outputs.length) {
    report(`${op} must name all ${sig.outputs.length} outputs (${sig.outputs.join(", ")}); use "" for the ones not needed`);
  }
  node.input.forEach((input, i) => {
    const d = lookup(scope, (s) => s.dtypes, input);
    if (d && d !== "float32") report(`${op} input ${i} (${sig.inputs[i]}) "${input}" must be float32, got ${d}`);
    const r = lookup(scope, (s) => s.ranks, input);
    const wantRank = sig.inputs[i]!.startsWith("d_") ? 0 : 1;
    if (r !== undefined && r !== wantRank) report(`${op} input ${i} (${sig.inputs[i]}) "${input}" must have rank ${wantRank}, got rank ${r}`);
  });
  for (const a of node.attribute) {
    if (!(a.name in sig.attributes)) report(`${op} has no attribute "${a.name}" (attributes: ${Object.keys(sig.attributes).join(", ")})`);
    else if (a.type !== AttributeType.FLOAT && a.refAttrName === "") report(`${op} attribute "${a.name}" must be a float`);
    else if (a.name === "delta" && a.refAttrName === "" && !(a.f >= 0)) report(`${op} attribute delta must be >= 0, got ${a.f}`);
  }
}
