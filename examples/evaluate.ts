import { readFileSync } from "node:fs";
import { evaluateDetector, loadCoco, PRESETS } from "ranksort/detect";

// COCO AP / AP50 / AP75 and oLRP (lower is better) of a detector on a COCO-format dataset.
const { samples } = loadCoco("data");
const { metrics, oLRP } = await evaluateDetector(readFileSync("run/model.onnx"), PRESETS["tiny-fcos"]!, samples);
console.log(`AP ${metrics.AP.toFixed(3)}  AP50 ${metrics.AP50.toFixed(3)}  AP75 ${metrics.AP75.toFixed(3)}  oLRP ${oLRP.toFixed(3)}`);
