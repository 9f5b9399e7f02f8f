// A consumer's TypeScript (nodenext, strict, no skipLibCheck): the main API's and the layers' types.
import { rankSortLoss, type RankSortResult, RankSortSession, standaloneLossModel, Trainer, type TrainStepSpec } from "ranksort";
import { readModel } from "ranksort/onnx";
import { type DetectorAdapter, PRESETS, predict } from "ranksort/detect";
import { buildTrainStep } from "ranksort/train";

const r: RankSortResult = rankSortLoss(new Float32Array([2, 1]), new Float32Array([1, 0]));
const loss: number = r.rankingLoss + r.sortingLoss;
const adapter: DetectorAdapter | undefined = PRESETS["tiny-fcos"];
export async function run(path: string): Promise<number> {
  const session = await RankSortSession.create(standaloneLossModel("RankSortLoss"), { executionProvider: "cpu" });
  const spec: TrainStepSpec | undefined = undefined;
  void [session.outputNames, Trainer.create, buildTrainStep, readModel, predict, adapter, spec, path];
  return loss;
}
