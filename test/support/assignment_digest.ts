// ATSS assignments of the tiny-FCOS layout for the synthetic dataset's boxes (half-integer centres:
// distances to grid anchors tie exactly), reduced to one digest: every JavaScript host must print
// the same one.
import { createHash } from "node:crypto";
import { renderSyntheticImage } from "../../src/data/synthetic_dataset.ts";
import { anchorLayout, loadAdapter } from "../../src/detect/adapter.ts";
import { assignATSS } from "../../src/detect/assigners.ts";

const adapter = loadAdapter("tiny-fcos");
const layout = anchorLayout(adapter);
const hash = createHash("sha256");
for (let id = 1; id <= 300; id++) {
  const { objects } = renderSyntheticImage(id, adapter.imageSize, 1, 4);
  const boxes = Float32Array.from(objects.flatMap((o) => [o.box[0], o.box[1], o.box[0] + o.box[2], o.box[1] + o.box[3]]));
  const a = assignATSS(layout.anchors, layout.perLevel, boxes);
  hash.update(new Uint8Array(a.gt.buffer));
  hash.update(new Uint8Array(a.iou.buffer));
}
console.log(hash.digest("hex"));
