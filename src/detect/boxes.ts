// Axis-aligned boxes as flat Float32Arrays of [x1, y1, x2, y2] rows: areas, IoU and GIoU matrices.

export type Boxes = Float32Array;

export function boxCount(b: Boxes): number {
  if (b.length % 4 !== 0) throw new RangeError(`boxes must hold 4 numbers per box, got ${b.length} numbers`);
  return b.length / 4;
}

export function area(b: Boxes, i: number): number {
  return Math.max(0, b[4 * i + 2]! - b[4 * i]!) * Math.max(0, b[4 * i + 3]! - b[4 * i + 1]!);
}

/** IoU of box i of `a` with box j of `b` (0 when both are empty). */
export function iou(a: Boxes, i: number, b: Boxes, j: number): number {
  const w = Math.min(a[4 * i + 2]!, b[4 * j + 2]!) - Math.max(a[4 * i]!, b[4 * j]!);
  const h = Math.min(a[4 * i + 3]!, b[4 * j + 3]!) - Math.max(a[4 * i + 1]!, b[4 * j + 1]!);
  const inter = w > 0 && h > 0 ? w * h : 0;
  const union = area(a, i) + area(b, j) - inter;
  return union > 0 ? inter / union : 0;
}

/** Generalized IoU: IoU − (hull − union) / hull. */
export function giou(a: Boxes, i: number, b: Boxes, j: number): number {
  const w = Math.min(a[4 * i + 2]!, b[4 * j + 2]!) - Math.max(a[4 * i]!, b[4 * j]!);
  const h = Math.min(a[4 * i + 3]!, b[4 * j + 3]!) - Math.max(a[4 * i + 1]!, b[4 * j + 1]!);
  const inter = w > 0 && h > 0 ? w * h : 0;
  const union = area(a, i) + area(b, j) - inter;
  const hw = Math.max(a[4 * i + 2]!, b[4 * j + 2]!) - Math.min(a[4 * i]!, b[4 * j]!);
  const hh = Math.max(a[4 * i + 3]!, b[4 * j + 3]!) - Math.min(a[4 * i + 1]!, b[4 * j + 1]!);
  const hull = hw * hh;
  if (union <= 0 || hull <= 0) return 0;
  return inter / union - (hull - union) / hull;
}

/** IoU matrix [count(a), count(b)], row-major. */
export function iouMatrix(a: Boxes, b: Boxes): Float32Array {
  const n = boxCount(a);
  const m = boxCount(b);
  const out = new Float32Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) out[i * m + j] = iou(a, i, b, j);
  return out;
}
