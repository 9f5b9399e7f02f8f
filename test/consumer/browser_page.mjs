// The main entry in a page: bundled with `bun build --target browser`, a loss on the CPU kernels.
import { rankSortLoss, standaloneLossModel, encodeModel } from "ranksort";

try {
  const r = rankSortLoss(new Float32Array([1.5, 2.0, 0.5, 1.0, -0.25, 0.75, 0.25, -2.0]), new Float32Array([0, 0.875, 0, 0.5, 0, 0, 0.75, 0]), { delta: 0.5 });
  window.__result = { ranking: r.rankingLoss, sorting: r.sortingLoss, modelBytes: encodeModel(standaloneLossModel("APLoss")).length };
} catch (e) {
  window.__result = { error: String(e?.stack ?? e) };
}
