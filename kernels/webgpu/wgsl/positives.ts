// Passes that find, validate and sort the positives, and lay out the 2P window edges.
//   scan_inputs  (over N)  validate every entry, min positive logit, compact the positives
//   setup        (1)       threshold, capacity and error checks, indirect dispatch sizes
//   sort         (over P)  rank of each positive by (logit, index), and its ordinal
//   edges        (over P)  merged position of each positive's two window edges; segment (lo, hi)

export const POSITIVES = /* wgsl */ `
var<workgroup> wg_count: atomic<u32>;
var<workgroup> wg_base: u32;
var<workgroup> wg_min: atomic<u32>;
var<workgroup> wg_bad: array<atomic<u32>, 3>;

@compute @workgroup_size(WG)
fn scan_inputs(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
               @builtin(num_workgroups) nwg: vec3<u32>) {
  if (lid.x == 0u) {
    atomicStore(&wg_min, 0xffffffffu);
    for (var i = 0u; i < 3u; i++) { atomicStore(&wg_bad[i], NO_INDEX); }
  }
  var my_min = 0xffffffffu;
  var bad_logit = NO_INDEX;
  var bad_target = NO_INDEX;
  var nan_target = NO_INDEX;
  let stride = nwg.x * WG;
  for (var base = wid.x * WG; base < params.n; base += stride) {
    if (lid.x == 0u) { atomicStore(&wg_count, 0u); }
    workgroupBarrier();
    let k = base + lid.x;
    var positive = false;
    var x = 0.0;
    if (k < params.n) {
      let t = targets[k];
      x = logits[k];
      if (is_nan(t)) {
        nan_target = min(nan_target, k);
      } else if (t == 0.0) {
        if (!is_finite(x)) { bad_logit = min(bad_logit, k); }
      } else if (t > 0.0) {
        var rejected = bitcast<u32>(t) == 0x7f800000u;
        if (params.rule == 1u) { rejected = t != 1.0; }
        if (rejected) {
          bad_target = min(bad_target, k);
        } else if (!is_finite(x)) {
          bad_logit = min(bad_logit, k);
        } else {
          positive = true;
          my_min = min(my_min, order_key(x));
        }
      }
    }
    var slot = 0u;
    if (positive) { slot = atomicAdd(&wg_count, 1u); }
    workgroupBarrier();
    if (lid.x == 0u) {
      let c = atomicLoad(&wg_count);
      wg_base = 0u;
      if (c > 0u) { wg_base = atomicAdd(&state[ST_POSITIVES], c); }
    }
    let first = workgroupUniformLoad(&wg_base);
    if (positive && first + slot < params.capacity) {
      pos[pf(PF_INDEX, first + slot)] = k;
      pos[pf(PF_LOGIT_BITS, first + slot)] = bitcast<u32>(x);
    }
  }
  atomicMin(&wg_min, my_min);
  atomicMin(&wg_bad[0], bad_logit);
  atomicMin(&wg_bad[1], bad_target);
  atomicMin(&wg_bad[2], nan_target);
  workgroupBarrier();
  if (lid.x == 0u) {
    let m = atomicLoad(&wg_min);
    if (m != 0xffffffffu) { atomicMin(&state[ST_MIN_POSITIVE_KEY], m); }
    let b0 = atomicLoad(&wg_bad[0]);
    if (b0 != NO_INDEX) { atomicMin(&state[ST_BAD_LOGIT], b0); }
    let b1 = atomicLoad(&wg_bad[1]);
    if (b1 != NO_INDEX) { atomicMin(&state[ST_BAD_TARGET], b1); }
    let b2 = atomicLoad(&wg_bad[2]);
    if (b2 != NO_INDEX) { atomicMin(&state[ST_NAN_TARGET], b2); }
  }
}

fn groups_for(count: u32) -> u32 { return (count + WG - 1u) / WG; }

@compute @workgroup_size(1)
fn setup() {
  let found = atomicLoad(&state[ST_POSITIVES]);
  var ok = found <= params.capacity
    && atomicLoad(&state[ST_BAD_LOGIT]) == NO_INDEX
    && atomicLoad(&state[ST_BAD_TARGET]) == NO_INDEX
    && atomicLoad(&state[ST_NAN_TARGET]) == NO_INDEX;
  if (params.has_regression == 1u && params.regression_count != found) { ok = false; }
  // After an error nothing else runs: zero gradients and zero losses, and the host reports it.
  let used = select(0u, found, ok);
  if (!ok) {
    atomicStore(&state[ST_LOSS_0], 0x7fc00000u); // NaN: never a plausible loss after bad input
    atomicStore(&state[ST_LOSS_1], 0x7fc00000u);
  }
  atomicStore(&state[ST_USED_POSITIVES], used);
  let min_logit = from_order_key(atomicLoad(&state[ST_MIN_POSITIVE_KEY]));
  // The reference's threshold: min(fg_logits) - delta in float32.
  atomicStore(&state[ST_THRESHOLD], bitcast<u32>(min_logit - params.delta));
  atomicStore(&state[ST_POSITIVE_DISPATCH], groups_for(used));
  atomicStore(&state[ST_POSITIVE_DISPATCH + 1u], 1u);
  atomicStore(&state[ST_POSITIVE_DISPATCH + 2u], 1u);
  atomicStore(&state[ST_SEGMENT_DISPATCH], select(0u, groups_for(2u * used + 1u), used > 0u));
  atomicStore(&state[ST_SEGMENT_DISPATCH + 1u], 1u);
  atomicStore(&state[ST_SEGMENT_DISPATCH + 2u], 1u);
}

// Rank by (logit, flattened index): a stable ascending sort, as the reference's argsort of fg logits.
@compute @workgroup_size(WG)
fn sort(@builtin(global_invocation_id) gid: vec3<u32>) {
  let P = used_positives();
  let i = gid.x;
  if (i >= P) { return; }
  let xi = bitcast<f32>(pos[pf(PF_LOGIT_BITS, i)]);
  let ki = pos[pf(PF_INDEX, i)];
  var rank = 0u;
  var ordinal = 0u;
  for (var j = 0u; j < P; j++) {
    let xj = bitcast<f32>(pos[pf(PF_LOGIT_BITS, j)]);
    let kj = pos[pf(PF_INDEX, j)];
    if (xj < xi || (xj == xi && kj < ki)) { rank++; }
    if (kj < ki) { ordinal++; }
  }
  set_pos_f32(PF_SORTED_LOGIT, rank, xi);
  set_pos_f32(PF_SORTED_TARGET, rank, targets[ki]);
  pos[pf(PF_SORTED_INDEX, rank)] = ki;
  pos[pf(PF_SORTED_ORDINAL, rank)] = ordinal;
  if (params.has_regression == 1u) {
    let reg = bitcast<f32>(pos[pf(PF_REGRESSION_INPUT, ordinal)]);
    set_pos_f32(PF_REGRESSION, rank, reg);
    if (!is_finite(reg)) { atomicMin(&state[ST_BAD_REGRESSION], ordinal); }
  }
}

// Window edges of positive r: the lower one, p + delta, past which H = 1 (x >= e; for delta == 0,
// x > p), and the upper one, p - delta, past which H > 0 (x > e; for delta == 0, x >= p). Merged in
// ascending order with the non-strict test first among equal values, "x passes edge m" is a prefix
// of the merged list, and the segment of x (edges passed) has lo = lower edges passed, hi = upper.
fn lower_edge(p: f32) -> f32 { if (params.delta > 0.0) { return p + params.delta; } return p; }
fn upper_edge(p: f32) -> f32 { if (params.delta > 0.0) { return p - params.delta; } return p; }
fn lower_strict() -> u32 { return select(0u, 1u, params.delta == 0.0); }

// Number of ranks j < P whose lower (or upper) edge comes before value v in the merge: edge < v, or
// edge <= v when 'or_equal'.
fn count_edges_before(P: u32, lower: bool, v: f32, or_equal: bool) -> u32 {
  var lo = 0u;
  var hi = P;
  while (lo < hi) {
    let mid = (lo + hi) / 2u;
    let p = pos_f32(PF_SORTED_LOGIT, mid);
    var e = upper_edge(p);
    if (lower) { e = lower_edge(p); }
    if (e < v || (or_equal && e == v)) { lo = mid + 1u; } else { hi = mid; }
  }
  return lo;
}

@compute @workgroup_size(WG)
fn edges(@builtin(global_invocation_id) gid: vec3<u32>) {
  let P = used_positives();
  let r = gid.x;
  if (r >= P) { return; }
  let p = pos_f32(PF_SORTED_LOGIT, r);
  let low = lower_edge(p);
  let up = upper_edge(p);
  let smoothed = params.delta > 0.0;
  // delta > 0: lower edges (non-strict) go first among equals; delta == 0: upper edges do.
  let uppers = count_edges_before(P, false, low, !smoothed);
  let lowers = count_edges_before(P, true, up, smoothed);
  let low_at = r + uppers;
  let up_at = r + lowers;
  pos[pf(PF_LOW_EDGE_POSITION, r)] = low_at;
  pos[pf(PF_HIGH_EDGE_POSITION, r)] = up_at;
  seg[sf(SF_LEFT, low_at + 1u)] = bitcast<u32>(low);
  seg[sf(SF_STRICT, low_at + 1u)] = lower_strict();
  seg[sf(SF_LO, low_at + 1u)] = r + 1u;
  seg[sf(SF_HI, low_at + 1u)] = uppers;
  seg[sf(SF_LEFT, up_at + 1u)] = bitcast<u32>(up);
  seg[sf(SF_STRICT, up_at + 1u)] = 1u - lower_strict();
  seg[sf(SF_LO, up_at + 1u)] = lowers;
  seg[sf(SF_HI, up_at + 1u)] = r + 1u;
  if (r == 0u) {
    seg[sf(SF_LEFT, 0u)] = 0u;
    seg[sf(SF_LO, 0u)] = 0u;
    seg[sf(SF_HI, 0u)] = 0u;
  }
}
`;
