// Gradients of MatMul (batched, broadcasting; via Einsum so any batch rank works) and Gemm.

import { sumToShapeOf } from "../broadcast.ts";
import { GradientError, type GradRule } from "../rule.ts";

export const matmulRules: Record<string, GradRule> = {
  MatMul: (ctx, [g]) => {
    const t = ctx.t;
    const [a, b] = [ctx.input(0), ctx.input(1)];
    const einsum = (eq: string, x: typeof a, y: typeof b) => t.e.op1("Einsum", [x, y], { equation: eq }, { dtype: a.dtype });
    // Each product has the output's batch dims and the operand's matrix dims (operands of rank ≥ 2).
    const [out, da, db] = [ctx.outputDims(0), ctx.inputDims(0), ctx.inputDims(1)];
    const productDims = (x: typeof da) => (out && x && da && db && da.length >= 2 && db.length >= 2 ? [...out.slice(0, -2), ...x.slice(-2)] : undefined);
    try {
      return [
        ctx.needs(0) ? sumToShapeOf(t, einsum("...ik,...jk->...ij", g!, b), a, productDims(da), da) : undefined,
        ctx.needs(1) ? sumToShapeOf(t, einsum("...ij,...ik->...jk", a, g!), b, productDims(db), db) : undefined,
      ];
    } catch (e) {
      throw new GradientError(`MatMul node "${ctx.node.name}": ${(e as Error).message}`);
    }
  },
  Gemm: (ctx, [g]) => {
    // Y = α·op(A)·op(B) + β·C with op = transpose when transA/transB.
    const t = ctx.t;
    const [a, b] = [ctx.input(0), ctx.input(1)];
    const alpha = ctx.float("alpha", 1);
    const beta = ctx.float("beta", 1);
    const transA = ctx.int("transA", 0) === 1;
    const transB = ctx.int("transB", 0) === 1;
    const scale = (x: typeof a, k: number) => (k === 1 ? x : t.mul(x, t.scalar(x.dtype ?? "float32", k)));
    const tr = (x: typeof a) => t.e.op1("Transpose", [x], { perm: [1, 0] }, { dtype: x.dtype });
    // dop(A) = α·g·op(B)ᵀ, dop(B) = α·op(A)ᵀ·g.
    const opA = transA ? tr(a) : a;
    const opB = transB ? tr(b) : b;
    const dOpA = ctx.needs(0) ? scale(t.matmul(g!, tr(opB)), alpha) : undefined;
    const dOpB = ctx.needs(1) ? scale(t.matmul(tr(opA), g!), alpha) : undefined;
    return [
      dOpA && (transA ? tr(dOpA) : dOpA),
      dOpB && (transB ? tr(dOpB) : dOpB),
      ctx.needs(2) ? sumToShapeOf(t, scale(g!, beta), ctx.input(2), ctx.outputDims(0), ctx.inputDims(2)) : undefined,
    ];
  },
};
