// The two passes over the logits that touch the (up to millions of) relevant negatives.
//   negative_counts  (over N)  find each relevant negative's segment with one binary search over the
//                              2P merged edges (O(1) when its window covers every positive), keep the
//                              segment id in out0, and add to the segment's count and its exact
//                              64-bit sum of quantised offsets (x - left edge) / (2 delta).
//   negative_grads   (over N)  g = A_s + B_s (x - left_s), one multiply-add per negative.
// The hottest segments (the one covering all positives, and the one above all windows) are summed
// per thread and per workgroup first, so millions of negatives cost one global atomic per workgroup.

export const NEGATIVES = /* wgsl */ `
var<workgroup> wg_cover_count: atomic<u32>;
var<workgroup> wg_cover_low: atomic<u32>;
var<workgroup> wg_cover_high: atomic<u32>;
var<workgroup> wg_top_count: atomic<u32>;
var<workgroup> wg_relevant: atomic<u32>;

fn is_relevant_negative(k: u32, P: u32, threshold: f32) -> bool {
  return P > 0u && targets[k] == 0.0 && logits[k] >= threshold;
}

fn passes_edge(x: f32, m: u32) -> bool {
  let e = seg_f32(SF_LEFT, m + 1u);
  if (seg[sf(SF_STRICT, m + 1u)] == 1u) { return x > e; }
  return x >= e;
}

// Number of merged edges x passes: its segment.
fn segment_of(x: f32, P: u32) -> u32 {
  // Early in training almost every negative sits in the window of every positive.
  let last_upper = upper_edge(pos_f32(PF_SORTED_LOGIT, P - 1u));
  let first_lower = lower_edge(pos_f32(PF_SORTED_LOGIT, 0u));
  let smoothed = params.delta > 0.0;
  // delta > 0: upper edges test x > e, lower ones x >= e; delta == 0 the other way round.
  let cover_from_ok = (smoothed && x > last_upper) || (!smoothed && x >= last_upper);
  let below_first = (smoothed && x < first_lower) || (!smoothed && x <= first_lower);
  if (cover_from_ok && below_first) { return P; }
  var lo = 0u;
  var hi = 2u * P;
  while (lo < hi) {
    let mid = (lo + hi) / 2u;
    if (passes_edge(x, mid)) { lo = mid + 1u; } else { hi = mid; }
  }
  return lo;
}

fn quantised_offset(x: f32, s: u32) -> u32 {
  if (params.quant == 0.0) { return 0u; }
  let d = max(x - seg_f32(SF_LEFT, s), 0.0) * params.quant;
  return u32(round(min(d, 2147483648.0)));
}

@compute @workgroup_size(WG)
fn negative_counts(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
                   @builtin(num_workgroups) nwg: vec3<u32>) {
  if (lid.x == 0u) {
    atomicStore(&wg_cover_count, 0u);
    atomicStore(&wg_cover_low, 0u);
    atomicStore(&wg_cover_high, 0u);
    atomicStore(&wg_top_count, 0u);
    atomicStore(&wg_relevant, 0u);
  }
  workgroupBarrier();
  let P = used_positives();
  let threshold = bitcast<f32>(atomicLoad(&state[ST_THRESHOLD]));
  var relevant = 0u;
  var cover_count = 0u;
  var cover_low = 0u;
  var cover_high = 0u;
  var top_count = 0u;
  let stride = nwg.x * WG;
  for (var k = wid.x * WG + lid.x; k < params.n; k += stride) {
    if (!is_relevant_negative(k, P, threshold)) { continue; }
    let x = logits[k];
    relevant++;
    let s = segment_of(x, P);
    out0[k] = f32(s); // exact while 2P + 1 < 2^24; read back by negative_grads
    if (s == P) {
      cover_count++;
      let q = quantised_offset(x, s);
      let sum = cover_low + q;
      if (sum < cover_low) { cover_high++; }
      cover_low = sum;
    } else if (s == 2u * P) {
      top_count++;
    } else {
      atomicAdd(&acc[af(AF_COUNT, s)], 1u);
      if (s > 0u) { atomic_add_u64(af(AF_SUM_LOW, s), af(AF_SUM_HIGH, s), quantised_offset(x, s), 0u); }
    }
  }
  atomicAdd(&wg_relevant, relevant);
  atomicAdd(&wg_cover_count, cover_count);
  atomicAdd(&wg_top_count, top_count);
  let old = atomicAdd(&wg_cover_low, cover_low);
  let carry = select(0u, 1u, old > 0xffffffffu - cover_low);
  atomicAdd(&wg_cover_high, cover_high + carry);
  workgroupBarrier();
  if (lid.x == 0u && P > 0u) {
    let r = atomicLoad(&wg_relevant);
    if (r > 0u) { atomicAdd(&state[ST_RELEVANT_NEGATIVES], r); }
    let c = atomicLoad(&wg_cover_count);
    if (c > 0u) {
      atomicAdd(&acc[af(AF_COUNT, P)], c);
      atomic_add_u64(af(AF_SUM_LOW, P), af(AF_SUM_HIGH, P), atomicLoad(&wg_cover_low), atomicLoad(&wg_cover_high));
    }
    let t = atomicLoad(&wg_top_count);
    if (t > 0u) { atomicAdd(&acc[af(AF_COUNT, 2u * P)], t); }
  }
}

@compute @workgroup_size(WG)
fn negative_grads(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let P = used_positives();
  let threshold = bitcast<f32>(atomicLoad(&state[ST_THRESHOLD]));
  let stride = nwg.x * WG;
  for (var k = gid.x; k < params.n; k += stride) {
    if (!is_relevant_negative(k, P, threshold)) { continue; }
    let s = u32(out0[k]);
    let a = seg_f32(SF_COEF_A, s);
    let b = seg_f32(SF_COEF_B, s);
    out0[k] = a + b * (logits[k] - seg_f32(SF_LEFT, s));
  }
}
`;
