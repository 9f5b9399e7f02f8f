// Passes every loss shares after the negatives are counted:
//   count_prefix         (1 workgroup)  exclusive prefix sums of the segment counts (exact, u32)
//   false_positives      (over P)       FP_r = (negatives past r's lower edge) + Σ over r's window
//                                       segments of count·H(left − p_r) + Σ quantised offsets
//   weight_prefix        (1 workgroup)  exclusive prefix sums of the per-positive negative weights
//   segment_coefficients (over 2P + 1)  A_s = Σ_{r < lo} w_r + Σ_{window} w_r H(left − p_r),
//                                       B_s = β Σ_{window} w_r, both divided by P
// The window sums add non-negative terms only, so float32 with compensation keeps them accurate
// where prefix-sum differences would cancel; their cost is O(P · window) ≤ O(P²), small next to N.

export const SHARED_PASSES = /* wgsl */ `
var<workgroup> scan_u32: array<u32, WG>;
var<workgroup> scan_f32: array<f32, WG>;
var<workgroup> scan_carry_u32: u32;
var<workgroup> scan_carry_f32: f32;
var<workgroup> scan_length: u32;

@compute @workgroup_size(WG)
fn count_prefix(@builtin(local_invocation_id) lid: vec3<u32>) {
  if (lid.x == 0u) { scan_length = 2u * used_positives() + 1u; scan_carry_u32 = 0u; }
  let S = workgroupUniformLoad(&scan_length);
  if (S == 1u) { return; }
  for (var chunk = 0u; chunk < S; chunk += WG) {
    let s = chunk + lid.x;
    var v = 0u;
    if (s < S) { v = atomicLoad(&acc[af(AF_COUNT, s)]); }
    scan_u32[lid.x] = v;
    workgroupBarrier();
    for (var off = 1u; off < WG; off *= 2u) {
      var add = 0u;
      if (lid.x >= off) { add = scan_u32[lid.x - off]; }
      workgroupBarrier();
      scan_u32[lid.x] += add;
      workgroupBarrier();
    }
    let carry = workgroupUniformLoad(&scan_carry_u32);
    if (s < S) { seg[sf(SF_COUNT_PREFIX, s)] = carry + scan_u32[lid.x] - v; }
    workgroupBarrier();
    if (lid.x == WG - 1u) {
      scan_carry_u32 = carry + scan_u32[WG - 1u];
      if (chunk + WG >= S) { seg[sf(SF_COUNT_PREFIX, S)] = scan_carry_u32; }
    }
    workgroupBarrier();
  }
}

@compute @workgroup_size(WG)
fn false_positives(@builtin(global_invocation_id) gid: vec3<u32>) {
  let P = used_positives();
  let r = gid.x;
  if (r >= P) { return; }
  let p = pos_f32(PF_SORTED_LOGIT, r);
  let low_at = pos[pf(PF_LOW_EDGE_POSITION, r)];
  let up_at = pos[pf(PF_HIGH_EDGE_POSITION, r)];
  let S = 2u * P + 1u;
  // Segments past the lower edge: H = 1 for all their negatives.
  let full = seg[sf(SF_COUNT_PREFIX, S)] - seg[sf(SF_COUNT_PREFIX, low_at + 1u)];
  var window = vec2<f32>(0.0, 0.0);
  for (var s = up_at + 1u; s <= low_at; s++) {
    let c = atomicLoad(&acc[af(AF_COUNT, s)]);
    if (c == 0u) { continue; }
    kahan_add(&window, f32(c) * window_value(seg_f32(SF_LEFT, s) - p));
    if (params.quant > 0.0) {
      let q = f32(atomicLoad(&acc[af(AF_SUM_HIGH, s)])) * TWO_POW_32 + f32(atomicLoad(&acc[af(AF_SUM_LOW, s)]));
      kahan_add(&window, q / TWO_POW_30);
    }
  }
  set_pos_f32(PF_FALSE_POSITIVES, r, f32(full) + kahan_value(window));
}

@compute @workgroup_size(WG)
fn weight_prefix(@builtin(local_invocation_id) lid: vec3<u32>) {
  if (lid.x == 0u) { scan_length = used_positives(); scan_carry_f32 = 0.0; }
  let P = workgroupUniformLoad(&scan_length);
  for (var chunk = 0u; chunk < P; chunk += WG) {
    let r = chunk + lid.x;
    var v = 0.0;
    if (r < P) { v = pos_f32(PF_NEGATIVE_WEIGHT, r); }
    scan_f32[lid.x] = v;
    workgroupBarrier();
    for (var off = 1u; off < WG; off *= 2u) {
      var add = 0.0;
      if (lid.x >= off) { add = scan_f32[lid.x - off]; }
      workgroupBarrier();
      scan_f32[lid.x] += add;
      workgroupBarrier();
    }
    let carry = workgroupUniformLoad(&scan_carry_f32);
    if (r < P) { set_pos_f32(PF_WEIGHT_PREFIX, r, carry + (scan_f32[lid.x] - v)); }
    workgroupBarrier();
    if (lid.x == WG - 1u) {
      scan_carry_f32 = carry + scan_f32[WG - 1u];
      if (chunk + WG >= P) { set_pos_f32(PF_WEIGHT_PREFIX, P, scan_carry_f32); }
    }
    workgroupBarrier();
  }
}

@compute @workgroup_size(WG)
fn segment_coefficients(@builtin(global_invocation_id) gid: vec3<u32>) {
  let P = used_positives();
  let s = gid.x;
  if (s > 2u * P) { return; }
  let lo = seg[sf(SF_LO, s)];
  let hi = seg[sf(SF_HI, s)];
  let left = seg_f32(SF_LEFT, s);
  let inv_p = 1.0 / f32(P);
  var a = vec2<f32>(pos_f32(PF_WEIGHT_PREFIX, lo), 0.0);
  var b = vec2<f32>(0.0, 0.0);
  for (var r = lo; r < hi; r++) {
    let w = pos_f32(PF_NEGATIVE_WEIGHT, r);
    if (w == 0.0) { continue; }
    kahan_add(&a, w * window_value(left - pos_f32(PF_SORTED_LOGIT, r)));
    kahan_add(&b, w);
  }
  var beta = 0.0;
  if (params.delta > 0.0) { beta = 1.0 / params.two_delta; }
  seg[sf(SF_COEF_A, s)] = bitcast<u32>(kahan_value(a) * inv_p);
  seg[sf(SF_COEF_B, s)] = bitcast<u32>(kahan_value(b) * beta * inv_p);
}

// Sum of a per-positive field over the P positives, by one workgroup: each thread sums a strided
// share with compensation, then a tree. Used for the losses.
var<workgroup> reduce_f32: array<f32, WG>;
fn reduce_positive_field(lid: u32, field: u32, P: u32) -> f32 {
  var part = vec2<f32>(0.0, 0.0);
  for (var r = lid; r < P; r += WG) { kahan_add(&part, pos_f32(field, r)); }
  reduce_f32[lid] = kahan_value(part);
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (lid < half) { reduce_f32[lid] += reduce_f32[lid + half]; }
    workgroupBarrier();
  }
  let total = reduce_f32[0];
  workgroupBarrier();
  return total;
}
`;
