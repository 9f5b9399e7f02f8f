// Gradients of Conv and ConvTranspose (any stride, padding, dilation, group; 1-D to 3-D), built from
// Conv, Gemm/MatMul, Slice and Transpose so they run where convolutions run (GPU on the WebGPU EP).
// Shapes may be dynamic: sizes that a static output_padding would fix are cut or padded at run time.
//
//   Conv:  dX = Conv(dY, W flipped and channel-swapped) for stride 1, else ConvTranspose(dY, W) cut
//          to X;  dW (weight dims known) = dY · patchesᵀ — patches as shifted slices of the flat,
//          padded X for stride 1 without groups, else unfolded by a one-hot Conv; dW (weight dims
//          unknown) = Conv(X regrouped, dY regrouped) with stride and dilation swapped;  dB = Σ dY.
//   ConvTranspose:  dX = Conv(dY, W) cut to X;  dW = the same regrouped Conv, roles swapped.

import type { Value } from "../../onnx/builder.ts";
import type { TensorOps } from "../../onnx/tensor_ops.ts";
import { allKnown } from "../static_shape.ts";
import { GradientError, type GradContext, type GradRule } from "../rule.ts";
import { cutTo } from "../spatial.ts";

interface ConvGeometry {
  spatial: number;
  strides: number[];
  dilations: number[];
  padsBegin: number[];
  padsEnd: number[];
  group: number;
}

function geometry(ctx: GradContext): ConvGeometry {
  const autoPad = ctx.string("auto_pad", "NOTSET");
  if (autoPad !== "NOTSET" && autoPad !== "VALID") {
    throw new GradientError(`${ctx.node.opType} node "${ctx.node.name}": auto_pad=${autoPad} has no gradient rule yet; export with explicit pads`);
  }
  const kernel = ctx.ints("kernel_shape", []);
  const strides = ctx.ints("strides", []);
  const pads = ctx.ints("pads", []);
  const dilations = ctx.ints("dilations", []);
  const spatial = kernel.length || strides.length || dilations.length || pads.length / 2 || 2;
  return {
    spatial,
    strides: strides.length ? strides : Array(spatial).fill(1),
    dilations: dilations.length ? dilations : Array(spatial).fill(1),
    padsBegin: pads.length ? pads.slice(0, spatial) : Array(spatial).fill(0),
    padsEnd: pads.length ? pads.slice(spatial) : Array(spatial).fill(0),
    group: ctx.int("group", 1),
  };
}

/**
 * [N, C, *S] → [C/G, G·N, *S]: channels of one group next to the batch, so a grouped Conv can
 * correlate every input channel with every output channel of its group over the batch.
 */
function regroup(t: TensorOps, x: Value, group: number, spatial: number): Value {
  const shape = t.shape(x);
  const N = t.slice(shape, t.e.ints([0]), t.e.ints([1]));
  const C = t.slice(shape, t.e.ints([1]), t.e.ints([2]));
  const S = t.slice(shape, t.e.ints([2]), t.e.ints([2 + spatial]));
  const G = t.e.ints([group]);
  const split = t.reshape(x, t.concat([N, G, t.div(C, G), S]));
  const perm = [2, 1, 0, ...Array.from({ length: spatial }, (_, i) => i + 3)];
  const moved = t.e.op1("Transpose", [split], { perm }, { dtype: x.dtype });
  return t.reshape(moved, t.concat([t.div(C, G), t.mul(G, N), S]));
}

/** [A, B, *K] → [B, A, *K], cut to the kernel's spatial size. */
function swapAndCut(t: TensorOps, w: Value, like: Value, spatial: number): Value {
  const perm = [1, 0, ...Array.from({ length: spatial }, (_, i) => i + 2)];
  const swapped = t.e.op1("Transpose", [w], { perm }, { dtype: w.dtype });
  return cutTo(t, swapped, like, Array(spatial).fill(0));
}

/** The weight gradient of a convolution whose input is `input`, output gradient `outGrad`. */
function weightGrad(t: TensorOps, input: Value, outGrad: Value, like: Value, g: ConvGeometry, outIsFirst: boolean): Value {
  // Conv over the regrouped input, with the forward's stride as dilation and dilation as stride.
  const data = regroup(t, outIsFirst ? outGrad : input, g.group, g.spatial);
  const kernel = t.e.op1("Transpose", [outIsFirst ? input : outGrad], { perm: [1, 0, ...Array.from({ length: g.spatial }, (_, i) => i + 2)] }, { dtype: input.dtype });
  const corr = t.e.op1(
    "Conv",
    [data, kernel],
    { strides: g.dilations, dilations: g.strides, pads: [...g.padsBegin, ...g.padsEnd], group: g.group },
    { dtype: input.dtype },
  );
  return swapAndCut(t, corr, like, g.spatial);
}

const prod = (v: readonly number[]) => v.reduce((a, b) => a * b, 1);

/**
 * [N, C, *S] → [C, N, *S]. With one image (each graph copy of a one-image-per-run export) that is
 * only a Reshape, which onnxruntime does without copying.
 */
function swapBatchAndChannels(t: TensorOps, v: Value, spatial: number, dims: number[] | undefined): Value {
  if (dims?.[0] === 1) return t.reshape(v, t.e.ints([dims[1]!, 1, ...dims.slice(2)]));
  const perm = [1, 0, ...Array.from({ length: spatial }, (_, i) => i + 2)];
  return t.e.op1("Transpose", [v], { perm }, { dtype: v.dtype ?? "float32" });
}

/**
 * dW of a stride-1, ungrouped convolution without unfolding X. Channels-first and padded, X is one
 * row of N·∏S_pad values per channel; in that flat layout kernel offset j is a constant shift s_j,
 * so its patch rows are a contiguous Slice (a memcpy per channel) starting at s_j. dY, padded at
 * the end of each axis to X's padded size (zeros where no output lies), lines up with every shift:
 *   dW[:, :, j] = dY_flat[:, :M] · X_flat[:, s_j : s_j + M]ᵀ,  M = N·∏S_pad − max_j s_j,
 * the K shifted slices concatenated into one [C·K, M] operand of one Gemm. The padding columns
 * cost some products (≈ 13 % on a 32² map with a 3×3 kernel) but no unfolding Conv, no blocked-
 * layout reorder and no transpose of the K-times larger patches: R18-FPN FCOS steps measured 1.6 %
 * (batch 2) and 9.6 % (batch 8) faster, the two graphs run interleaved in one process.
 */
function weightGradByShifts(t: TensorOps, x: Value, dy: Value, wDims: number[], g: ConvGeometry, xDims?: number[], dyDims?: number[]): Value {
  const [O, C, ...k] = wDims as [number, number, ...number[]];
  const n = g.spatial;
  const K = prod(k);
  const dtype = x.dtype ?? "float32";
  const channelsFirst = swapBatchAndChannels(t, x, n, xDims); // [C, N, *S]
  const outGrad = swapBatchAndChannels(t, dy, n, dyDims); // [O, N, *S_out]
  if (K === 1 && [...g.padsBegin, ...g.padsEnd].every((p) => p === 0)) {
    // A 1×1 kernel without padding: one shift of 0, so X and dY line up as they are.
    return t.reshape(t.e.op1("Gemm", [t.reshape(outGrad, t.e.ints([O, -1])), t.reshape(channelsFirst, t.e.ints([C, -1]))], { transB: 1 }, { dtype }), t.e.ints(wDims));
  }
  const padded = [...g.padsBegin, ...g.padsEnd].some((p) => p !== 0)
    ? t.e.op1("Pad", [channelsFirst, t.e.ints([0, 0, ...g.padsBegin, 0, 0, ...g.padsEnd])], {}, { dtype })
    : channelsFirst;
  // Row-major strides of the padded spatial dims, each offset's shift along the flat row, and the
  // row length the products cover: numbers where the dims are known before running (most exports),
  // else shape arithmetic at run time (~100 int nodes per convolution, which onnxruntime folds but
  // still has to optimise).
  let outPadded: Value;
  let window: (offset: number[]) => [Value, Value]; // [start, end) of an offset's slice of the flat row
  let M: Value;
  if (xDims && dyDims) {
    const paddedSize = xDims.slice(2).map((d, a) => d + g.padsBegin[a]! + g.padsEnd[a]!);
    const tail = paddedSize.map((d, a) => d - dyDims[2 + a]!);
    outPadded = t.e.op1("Pad", [outGrad, t.e.ints([...Array(n + 2).fill(0), 0, 0, ...tail])], {}, { dtype });
    const strides: number[] = [];
    for (let a = n - 1, acc = 1; a >= 0; a--) {
      strides[a] = acc;
      acc *= paddedSize[a]!;
    }
    const shiftOf = (offset: number[]) => offset.reduce((sum, o, a) => sum + o * g.dilations[a]! * strides[a]!, 0);
    const m = xDims[0]! * prod(paddedSize) - shiftOf(k.map((ka) => ka - 1));
    window = (offset) => [t.e.ints([shiftOf(offset)]), t.e.ints([shiftOf(offset) + m])];
    M = t.e.ints([m]);
  } else {
    const spatial = (v: Value) => t.slice(t.shape(v), t.e.ints([2]), t.e.ints([2 + n]));
    const paddedSize = spatial(padded);
    const tail = t.sub(paddedSize, spatial(outGrad));
    outPadded = t.e.op1("Pad", [outGrad, t.concat([t.e.ints(Array(n + 2).fill(0)), t.e.ints([0, 0]), tail])], {}, { dtype });
    const dim = (a: number) => t.gather(paddedSize, t.e.ints([a]));
    const strides: Value[] = [];
    for (let a = n - 1, acc: Value = t.e.ints([1]); a >= 0; a--) {
      strides[a] = acc;
      acc = t.mul(acc, dim(a));
    }
    const shift = (offset: number[]) => offset.reduce<Value>((sum, o, a) => (o ? t.add(sum, t.mul(strides[a]!, t.e.ints([o * g.dilations[a]!]))) : sum), t.e.ints([0]));
    const length = t.e.op1("ReduceProd", [t.slice(t.shape(padded), t.e.ints([1]), t.e.ints([2 + n]))], { keepdims: 1 }, { dtype: "int64" });
    const m = t.sub(length, shift(k.map((ka) => ka - 1)));
    window = (offset) => {
      const start = shift(offset);
      return [start, t.add(start, m)];
    };
    M = m;
  }
  const rows = t.reshape(padded, t.e.ints([C, 1, -1])); // [C, 1, N·∏S_pad]
  const parts: Value[] = [];
  for (let j = 0; j < K; j++) {
    const offset: number[] = [];
    for (let a = n - 1, r = j; a >= 0; a--) {
      offset[a] = r % k[a]!;
      r = Math.floor(r / k[a]!);
    }
    const [start, end] = window(offset);
    parts.push(t.e.op1("Slice", [rows, start, end, t.e.ints([2])], {}, { dtype }));
  }
  const patches = t.reshape(t.concat(parts, 1), t.e.ints([C * K, -1])); // rows (c, j)
  const dyRows = t.e.op1("Slice", [t.reshape(outPadded, t.e.ints([O, -1])), t.e.ints([0]), M, t.e.ints([1])], {}, { dtype });
  return t.reshape(t.e.op1("Gemm", [dyRows, patches], { transB: 1 }, { dtype }), t.e.ints(wDims));
}

/**
 * dW through explicit patches when the weight's dims are known: X is unfolded into [N, C·K, P]
 * (K kernel positions, P output positions) and matrix products contract it with dY — much faster
 * on CPU than a convolution whose "kernel" is dY. The unfolding convolves every channel as its own
 * batch item with K one-hot kernels ([N·C, 1, *S] → [N·C, K, *P]); a depthwise Conv with channel
 * multiplier K would do the same, but onnxruntime-web's WebGPU EP computes that wrongly (measured:
 * multiplier 9 off by up to 18, multipliers 1–4 exact). A 1×1 stride-1 kernel needs no unfolding.
 */
function weightGradByPatches(t: TensorOps, x: Value, dy: Value, wDims: number[], g: ConvGeometry, batch: number | undefined): Value {
  const [O, Cg, ...k] = wDims as [number, number, ...number[]];
  const K = prod(k);
  const C = Cg * g.group;
  const dtype = x.dtype ?? "float32";
  const N = t.slice(t.shape(x), t.e.ints([0]), t.e.ints([1]));
  let patches: Value;
  if (K === 1 && g.strides.every((s) => s === 1) && [...g.padsBegin, ...g.padsEnd].every((p) => p === 0)) {
    patches = t.reshape(x, t.concat([N, t.e.ints([C, -1])]));
  } else {
    const oneHot = new Float32Array(K * K);
    for (let j = 0; j < K; j++) oneHot[j * K + j] = 1;
    const kernel = t.e.constant(dtype, oneHot, [K, 1, ...k]);
    const spatialIn = t.slice(t.shape(x), t.e.ints([2]), t.e.ints([2 + g.spatial]));
    const perChannel = t.reshape(x, t.concat([t.e.ints([-1, 1]), spatialIn]));
    const unfolded = t.e.op1("Conv", [perChannel, kernel], { strides: g.strides, dilations: g.dilations, pads: [...g.padsBegin, ...g.padsEnd], kernel_shape: k }, { dtype });
    patches = t.reshape(unfolded, t.concat([N, t.e.ints([C * K, -1])]));
  }
  const G = g.group;
  if (G > 1) {
    // Groups (depthwise above all): one product per image and group, summed over the batch —
    // reading dY and the patches as they lie; the partial sums are only N weights' size here.
    const perGroup = (v: Value, rows: number) => t.reshape(v, t.concat([N, t.e.ints([G, rows, -1])]));
    const patchesT = t.e.op1("Transpose", [perGroup(patches, Cg * K)], { perm: [0, 1, 3, 2] }, { dtype });
    return t.reshape(t.reduceSum(t.matmul(perGroup(dy, O / G), patchesT), [0], 0), t.e.ints(wDims));
  }
  // Batch folded into the contraction, with transposes that keep the innermost (spatial) axis in
  // place — onnxruntime's Transpose is slow when the innermost axis moves:
  //   dY → [O, N·P],  patches → [C·K, N·P],  dW = dY · patchesᵀ (Gemm transB).
  // (One product per image summed instead reads the patches untransposed, but measured ~15 %
  // slower per step on R18-FPN FCOS: its [N, O, C·K] partial sums outweigh the patches where the
  // map is small and the channels many.)
  const arrange = (v: Value, rows: number) =>
    batch === 1
      ? t.reshape(v, t.e.ints([rows, -1])) // one image: already in that order
      : t.reshape(t.e.op1("Transpose", [t.reshape(v, t.concat([N, t.e.ints([rows, -1])]))], { perm: [1, 0, 2] }, { dtype }), t.e.ints([rows, -1]));
  const dw = t.e.op1("Gemm", [arrange(dy, O), arrange(patches, C * K)], { transB: 1 }, { dtype });
  return t.reshape(dw, t.e.ints(wDims));
}

const flippedKernels = new WeakMap<object, Map<string, Value>>();

function flippedKernel(t: TensorOps, w: Value, wDims: number[], group: number): Value {
  // One per weight: a head shared across pyramid levels runs one Conv node per level.
  const cache = flippedKernels.get(t.e) ?? new Map<string, Value>();
  flippedKernels.set(t.e, cache);
  const key = `${w.name}/${group}`;
  const kernel = cache.get(key) ?? swapAndFlip(t, w, wDims, group);
  cache.set(key, kernel);
  return kernel;
}

/** [O, C/G, *k] → [C, O/G, *k]: output and input channels swapped per group, the kernel flipped. */
function swapAndFlip(t: TensorOps, w: Value, wDims: number[], group: number): Value {
  const [O, Cg, ...k] = wDims as [number, number, ...number[]];
  const K = prod(k);
  const dtype = w.dtype ?? "float32";
  if (K === 1 && group === 1) {
    // A 1×1 kernel is a matrix: transposed as one, since onnxruntime's optimizer merges the 4-D
    // form with the Reshape after it into a transpose it walks element by element (3.6 ms for a
    // [2048, 512] weight, 0.1 ms as a matrix).
    return t.reshape(t.e.op1("Transpose", [t.reshape(w, t.e.ints([O, Cg]))], { perm: [1, 0] }, { dtype }), t.e.ints([Cg, O, ...k]));
  }
  const swapped = t.e.op1("Transpose", [t.reshape(w, t.e.ints([group, O / group, Cg, K]))], { perm: [0, 2, 1, 3] }, { dtype });
  let flipped = swapped;
  if (K > 1) {
    const exchange = new Float32Array(K * K);
    for (let i = 0; i < K; i++) exchange[i * K + (K - 1 - i)] = 1;
    flipped = t.matmul(swapped, t.e.constant(dtype, exchange, [K, K]));
  }
  return t.reshape(flipped, t.e.ints([group * Cg, O / group, ...k]));
}

export const convRules: Record<string, GradRule> = {
  Conv: (ctx, [dy]) => {
    const t = ctx.t;
    const g = geometry(ctx);
    const [x, w] = [ctx.input(0), ctx.input(1)];
    const zeros = Array(g.spatial).fill(0);
    const wDims = ctx.staticDims(1);
    let dx: Value | undefined;
    if (ctx.needs(0)) {
      const k = wDims?.slice(2) ?? [];
      const full = g.dilations.map((d, i) => d * ((k[i] ?? 1) - 1));
      const direct = wDims && g.strides.every((s) => s === 1) && g.padsBegin.every((p, i) => p <= full[i]!) && g.padsEnd.every((p, i) => p <= full[i]!);
      if (direct) {
        // Stride 1: dX is a plain Conv of dY with the flipped, channel-swapped kernel — onnxruntime
        // runs Conv faster than ConvTranspose (no col2im).
        const pads = [...g.padsBegin.map((p, i) => full[i]! - p), ...g.padsEnd.map((p, i) => full[i]! - p)];
        dx = t.e.op1("Conv", [dy!, flippedKernel(t, w, wDims, g.group)], { dilations: g.dilations, pads, group: g.group }, { dtype: dy!.dtype });
      } else {
        const fullOut = t.e.op1("ConvTranspose", [dy!, w], { strides: g.strides, dilations: g.dilations, pads: [...zeros, ...zeros], group: g.group }, { dtype: dy!.dtype });
        dx = cutTo(t, fullOut, x, g.padsBegin);
      }
    }
    // Stride 1, no groups (most of a detector's weights): shifted slices; otherwise unfolded patches.
    const shifts = g.group === 1 && g.strides.every((s) => s === 1);
    const dw = !ctx.needs(1)
      ? undefined
      : wDims && wDims.length === g.spatial + 2
        ? shifts
          ? weightGradByShifts(t, x, dy!, wDims, g, ctx.staticDims(0), allKnown(ctx.outputDims(0)))
          : weightGradByPatches(t, x, dy!, wDims, g, ctx.staticDims(0)?.[0])
        : weightGrad(t, x, dy!, w, g, false);
    let db: Value | undefined;
    if (ctx.node.input[2] && ctx.needs(2)) {
      const axes = [0, ...Array.from({ length: g.spatial }, (_, i) => i + 2)];
      db = t.reduceSum(dy!, axes, 0);
    }
    return [dx, dw, db];
  },
  ConvTranspose: (ctx, [dy]) => {
    const t = ctx.t;
    const g = geometry(ctx);
    if (ctx.attr("output_shape")) throw new GradientError(`ConvTranspose node "${ctx.node.name}": output_shape has no gradient rule yet; use pads/output_padding`);
    const [x, w] = [ctx.input(0), ctx.input(1)];
    const dx = ctx.needs(0)
      ? cutTo(t, t.e.op1("Conv", [dy!, w], { strides: g.strides, dilations: g.dilations, pads: [...g.padsBegin, ...g.padsEnd], group: g.group }, { dtype: dy!.dtype }), x, Array(g.spatial).fill(0))
      : undefined;
    const dw = ctx.needs(1) ? weightGrad(t, x, dy!, w, g, true) : undefined;
    let db: Value | undefined;
    if (ctx.node.input[2] && ctx.needs(2)) db = t.reduceSum(dy!, [0, ...Array.from({ length: g.spatial }, (_, i) => i + 2)], 0);
    return [dx, dw, db];
  },
};
