// Every gradient rule, by op type ("domain::OpType" outside the default domain).

import type { GradRule } from "../rule.ts";
import { convRules } from "./conv.ts";
import { elementwiseRules } from "./elementwise.ts";
import { poolResizeRules } from "./pool_resize.ts";
import { matmulRules } from "./matmul.ts";
import { normRules } from "./norm.ts";
import { ranksortRules } from "./ranksort.ts";
import { reduceRules } from "./reduce.ts";
import { shapeRules } from "./shape.ts";

export function gradRules(): Map<string, GradRule> {
  return new Map(Object.entries({ ...elementwiseRules, ...matmulRules, ...shapeRules, ...reduceRules, ...ranksortRules, ...convRules, ...poolResizeRules, ...normRules }));
}
