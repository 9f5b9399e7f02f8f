import { GraphBuilder } from "ranksort/onnx";
import { rankSortLossTerm, Trainer } from "ranksort";

// Any ONNX model (here a 2-feature linear scorer) plus a loss built from its outputs.
const g = new GraphBuilder("scorer", { "": 17 });
const x = g.input("x", "float32", ["N", 2]);
const w = g.initializer("w", "float32", [0.1, -0.1], [2, 1]);
g.output(g.op1("MatMul", [x, w]), "score", "float32", ["N", 1]);
const trainer = await Trainer.create({
  model: g.model(),
  optimizer: { kind: "adamw" },
  loss: (t, outputs, input) => rankSortLossTerm(t, outputs.score!, input("iou", "float32", ["N"])).total,
});
const feeds = {
  x: { type: "float32" as const, data: new Float32Array([1, 0, 0, 1, 1, 1, 0, 0]), dims: [4, 2] },
  iou: { type: "float32" as const, data: new Float32Array([0.9, 0, 0.5, 0]), dims: [4] },
};
for (let step = 0; step < 20; step++) await trainer.trainStep(feeds, 0.05);
console.log("loss after 20 steps:", await trainer.trainStep(feeds, 0.05));
const trained = await trainer.exportModel(); // the original model with the trained weights
