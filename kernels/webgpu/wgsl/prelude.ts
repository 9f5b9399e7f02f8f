// Declarations every kernel shares: parameters, the eight storage bindings, and helpers.
// WGSL has no f64, so long sums use Neumaier's compensated summation (a vec2: sum, correction) and
// the negatives' per-segment sums are exact 64-bit integer sums of quantised offsets.

import { layoutConstants } from "../layout.ts";

export const PRELUDE = /* wgsl */ `
${layoutConstants()}

struct Params {
  n: u32,           // number of logits
  capacity: u32,    // positives the pools hold
  rule: u32,        // 0: t > 0 is positive (RankSort); 1: t == 1 (AP, aLRP)
  has_regression: u32,
  delta: f32,
  two_delta: f32,
  eps: f32,
  tie: f32,         // H(0) when delta == 0: 1 (RankSort) or 0.5 (AP, aLRP)
  quant: f32,       // 2^30 / (2 delta): fixed-point scale of window offsets (0 when delta == 0)
  regression_count: u32,
  pad0: u32,
  pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<f32>;
@group(0) @binding(3) var<storage, read_write> out0: array<f32>;
@group(0) @binding(4) var<storage, read_write> out1: array<f32>;
@group(0) @binding(5) var<storage, read_write> state: array<atomic<u32>>;
@group(0) @binding(6) var<storage, read_write> pos: array<u32>;
@group(0) @binding(7) var<storage, read_write> seg: array<u32>;
@group(0) @binding(8) var<storage, read_write> acc: array<atomic<u32>>;

const TWO_POW_30: f32 = 1073741824.0;
const TWO_POW_32: f32 = 4294967296.0;

fn pf(field: u32, i: u32) -> u32 { return field * params.capacity + i; }
fn segments() -> u32 { return 2u * params.capacity + 1u; }
fn sf(field: u32, s: u32) -> u32 { return field * segments() + s; }
fn af(field: u32, s: u32) -> u32 { return field * segments() + s; }

fn pos_f32(field: u32, i: u32) -> f32 { return bitcast<f32>(pos[pf(field, i)]); }
fn set_pos_f32(field: u32, i: u32, v: f32) { pos[pf(field, i)] = bitcast<u32>(v); }
fn seg_f32(field: u32, s: u32) -> f32 { return bitcast<f32>(seg[sf(field, s)]); }

// NaN and infinity are tested on the bits: WGSL lets compilers assume finite floats.
fn is_finite(x: f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u; }
fn is_nan(x: f32) -> bool {
  let b = bitcast<u32>(x);
  return (b & 0x7f800000u) == 0x7f800000u && (b & 0x007fffffu) != 0u;
}

// An order-preserving u32 key of a float, so that atomicMin finds the smallest logit.
fn order_key(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  if ((b & 0x80000000u) != 0u) { return ~b; }
  return b | 0x80000000u;
}
fn from_order_key(k: u32) -> f32 {
  if ((k & 0x80000000u) != 0u) { return bitcast<f32>(k & 0x7fffffffu); }
  return bitcast<f32>(~k);
}

// The smoothed step H(d), evaluated as the reference does in float32.
fn step_value(d: f32) -> f32 {
  if (params.delta > 0.0) { return clamp(d / params.two_delta + 0.5, 0.0, 1.0); }
  if (d > 0.0) { return 1.0; }
  if (d < 0.0) { return 0.0; }
  return params.tie;
}

// H at a window offset d (|d| < delta), unclamped: alpha + beta * d.
fn window_value(d: f32) -> f32 {
  if (params.delta > 0.0) { return 0.5 + d / params.two_delta; }
  return params.tie;
}

// Neumaier's compensated sum: acc.x is the sum, acc.y the running rounding error.
fn kahan_add(acc: ptr<function, vec2<f32>>, x: f32) {
  let s = (*acc).x;
  let t = s + x;
  if (abs(s) >= abs(x)) { (*acc).y += (s - t) + x; } else { (*acc).y += (x - t) + s; }
  (*acc).x = t;
}
fn kahan_value(acc: vec2<f32>) -> f32 { return acc.x + acc.y; }

// Adds a private 64-bit value (low, high) to an atomic 64-bit counter stored as two words.
fn atomic_add_u64(low_word: u32, high_word: u32, low: u32, high: u32) {
  if (low == 0u && high == 0u) { return; }
  let old = atomicAdd(&acc[low_word], low);
  let carry = select(0u, 1u, old > 0xffffffffu - low);
  if (high + carry != 0u) { atomicAdd(&acc[high_word], high + carry); }
}

fn used_positives() -> u32 { return atomicLoad(&state[ST_USED_POSITIVES]); }
`;
