// Anchors and points per FPN level, in the order heads flatten their outputs: level by level, then
// row-major over the feature map (y, then x), then anchors per location.

export interface LevelSpec {
  /** Feature map size. */
  height: number;
  width: number;
  /** Pixels per feature cell. */
  stride: number;
}

export interface AnchorSpec {
  /** Base anchor size per level = octaveBaseScale · stride · 2^(i / scalesPerOctave). */
  octaveBaseScale: number;
  scalesPerOctave: number;
  /** Height/width ratios. */
  ratios: readonly number[];
  /** Anchor centres at cell centre (offset 0.5, mmdetection ≥ 2 "center_offset") or corner (0). */
  centerOffset?: number;
}

/** Anchors [x1, y1, x2, y2] for one level; anchors per location = ratios × scales. */
export function levelAnchors(level: LevelSpec, spec: AnchorSpec): Float32Array {
  const sizes: [number, number][] = [];
  for (const ratio of spec.ratios) {
    for (let s = 0; s < spec.scalesPerOctave; s++) {
      const scale = spec.octaveBaseScale * level.stride * 2 ** (s / spec.scalesPerOctave);
      const hRatio = Math.sqrt(ratio);
      sizes.push([scale / hRatio, scale * hRatio]); // width, height
    }
  }
  const offset = spec.centerOffset ?? 0.5;
  const out = new Float32Array(level.height * level.width * sizes.length * 4);
  let k = 0;
  for (let y = 0; y < level.height; y++) {
    for (let x = 0; x < level.width; x++) {
      const cx = (x + offset) * level.stride;
      const cy = (y + offset) * level.stride;
      for (const [w, h] of sizes) {
        out[k++] = cx - w / 2;
        out[k++] = cy - h / 2;
        out[k++] = cx + w / 2;
        out[k++] = cy + h / 2;
      }
    }
  }
  return out;
}

/** Points (x, y) at cell centres (FCOS) for one level. */
export function levelPoints(level: LevelSpec, centerOffset = 0.5): Float32Array {
  const out = new Float32Array(level.height * level.width * 2);
  let k = 0;
  for (let y = 0; y < level.height; y++) {
    for (let x = 0; x < level.width; x++) {
      out[k++] = (x + centerOffset) * level.stride;
      out[k++] = (y + centerOffset) * level.stride;
    }
  }
  return out;
}

/** Feature-map sizes for an image, strided by each level (ceil, as convolutions with padding give). */
export function levelsFor(imageHeight: number, imageWidth: number, strides: readonly number[]): LevelSpec[] {
  return strides.map((stride) => ({ stride, height: Math.ceil(imageHeight / stride), width: Math.ceil(imageWidth / stride) }));
}
