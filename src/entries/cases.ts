/**
 * `ranksort/cases`: golden-format loss cases — reading `.json`/`.json.gz` files (Node, Bun, Deno),
 * evaluating them on a loss backend and comparing with their reference outputs within the
 * project's tolerances.
 *
 * @packageDocumentation
 */
export { readCase } from "../cases/case_file.ts";
export { CaseFormatError, parseCase, type LossCase, type LossKind } from "../cases/golden_case.ts";
export { compareOutputs, evaluateCase, type CaseComparison, type CaseOutputs } from "../cases/evaluate_case.ts";
export { GRAD_ABS_TOL, GRAD_REL_TOL, LOSS_TOL, maxToleranceRatio } from "../cases/tolerance.ts";
