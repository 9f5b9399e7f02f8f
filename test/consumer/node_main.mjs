// Node ESM import of the main API and a loss computed (the tiny exactness case, exact values known).
import { parseCase, rankSortLoss, standaloneLossModel, encodeModel } from "ranksort";
import { readCase } from "ranksort/cases";
import { PRESETS } from "ranksort/detect";

const c = readCase(process.argv[2]);
const r = rankSortLoss(c.logits, c.targets, { delta: c.params.delta_RS });
const model = encodeModel(standaloneLossModel("RankSortLoss", { delta: 0.5 }));
console.log(JSON.stringify({ host: "node", ranking: r.rankingLoss, sorting: r.sortingLoss, expected: c.outputs, modelBytes: model.length, presets: Object.keys(PRESETS).length, parsed: typeof parseCase }));
