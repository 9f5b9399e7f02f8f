import { PRESETS, trainDetector, writeSyntheticDataset } from "ranksort/detect";

// Fine-tune an exported detector with Rank & Sort loss on a COCO-format folder (annotations.json,
// images/). The preset maps the model's outputs; an adapter JSON does the same for other exports.
writeSyntheticDataset("data", { images: 40, size: 128, seed: 1 });
const metrics = await trainDetector({
  modelPath: "node_modules/ranksort/models/tiny_fcos_128.onnx",
  adapter: PRESETS["tiny-fcos"]!,
  dataDir: "data",
  outDir: "run", // checkpoint.bin, metrics.json, model.onnx
  epochs: 2, batch: 8, lr: 0.01, optimizer: "sgd", loss: "rs", backend: "cpu",
});
console.log(metrics.map((m) => `epoch ${m.epoch}: AP50 ${m.AP50.toFixed(3)} oLRP ${m.oLRP.toFixed(3)}`));
