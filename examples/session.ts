import { RankSortSession, standaloneLossModel } from "ranksort";

// Any model with com.ranksort nodes (a path, bytes or a ModelProto): "inline" runs the function
// bodies in one onnxruntime session; "kernels" runs our nodes in the exact CPU kernels.
const session = await RankSortSession.create(standaloneLossModel("RankSortLoss"), { executionProvider: "cpu", mode: "kernels" });
const n = 4;
const out = await session.run({
  logits: { type: "float32", data: new Float32Array([2, 1, 0.5, -1]), dims: [n] },
  targets: { type: "float32", data: new Float32Array([0.9, 0, 0.6, 0]), dims: [n] },
});
console.log(out.ranking_loss!.data[0], out.grad!.data);
