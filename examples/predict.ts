import { readFileSync } from "node:fs";
import { decodeImage, drawBoxes, encodeRGBPng, PRESETS, predict } from "ranksort/detect";

// Image → boxes (image pixels), scores, class indices: the preset's decode and NMS.
const image = decodeImage(readFileSync("data/images/00001.png"));
const [detections] = await predict(readFileSync("run/model.onnx"), PRESETS["tiny-fcos"]!, [image], { scoreThreshold: 0.01 });
for (const d of detections!) console.log(d.classIndex, d.score.toFixed(2), d.box.map(Math.round));
const picture = encodeRGBPng(drawBoxes(image, detections!)); // PNG bytes with boxes and scores drawn
