// Deno importing the package through node_modules.
import { rankSortLoss } from "ranksort";

const r = rankSortLoss(new Float32Array([1.5, 2.0, 0.5, 1.0, -0.25, 0.75, 0.25, -2.0]), new Float32Array([0, 0.875, 0, 0.5, 0, 0, 0.75, 0]), { delta: 0.5 });
console.log(JSON.stringify({ host: "deno", ranking: r.rankingLoss, sorting: r.sortingLoss }));
