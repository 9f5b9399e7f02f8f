// Our ops: the gradient of each loss op is its Grad op (the identity update, both upstream weights
// honoured); regression losses, targets and the auxiliary outputs carry none.

import { DOMAIN } from "../../ops/domain.ts";
import type { Value } from "../../onnx/builder.ts";
import type { GradContext, GradRule } from "../rule.ts";

function attrs(ctx: GradContext): Record<string, { kind: "float"; value: number }> {
  const out: Record<string, { kind: "float"; value: number }> = {};
  for (const a of ctx.node.attribute) out[a.name] = { kind: "float", value: a.f };
  return out;
}

const zeroIfMissing = (ctx: GradContext, g: Value | undefined) => g ?? ctx.t.scalar("float32", 0);

export const ranksortRules: Record<string, GradRule> = {
  [`${DOMAIN}::RankSortLoss`]: (ctx, [gr, gs]) => {
    const d = ctx.e.op1("RankSortLossGrad", [ctx.input(0), ctx.input(1), zeroIfMissing(ctx, gr), zeroIfMissing(ctx, gs)], attrs(ctx), { domain: DOMAIN, dtype: "float32" });
    return [d, undefined];
  },
  [`${DOMAIN}::APLoss`]: (ctx, [gl]) => [
    ctx.e.op1("APLossGrad", [ctx.input(0), ctx.input(1), zeroIfMissing(ctx, gl)], attrs(ctx), { domain: DOMAIN, dtype: "float32" }),
    undefined,
  ],
  [`${DOMAIN}::StopGradient`]: () => [undefined],
  [`${DOMAIN}::ALRPLoss`]: (ctx, [gl]) => [
    ctx.e.op1("ALRPLossGrad", [ctx.input(0), ctx.input(1), ctx.input(2), zeroIfMissing(ctx, gl)], attrs(ctx), { domain: DOMAIN, dtype: "float32" }),
    undefined,
    undefined,
  ],
};
