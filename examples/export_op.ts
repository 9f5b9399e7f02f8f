import { writeFileSync } from "node:fs";
import { encodeModel, standaloneLossModel } from "ranksort";

// A model of one com.ranksort op (inputs logits, targets; outputs the losses and grad) whose
// function body lets stock onnxruntime run it with no ranksort code.
const model = standaloneLossModel("RankSortLoss", { delta: 0.5 });
writeFileSync("rank_sort_loss.onnx", encodeModel(model));
