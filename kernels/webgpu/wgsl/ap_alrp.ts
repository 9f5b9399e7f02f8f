// AP's and aLRP's own passes (self term excluded: rank⁺ = 1 + Σ_{j≠i} H_ij):
//   ap_pairs      (over P)  rank⁺, and for aLRP Σ_{j≠i} H_ij ℓ_j
//   ap_weights    (over P)  running maximum precision in ascending logit; positive grads; the
//                           negatives' weight 1/rank, scaled when the precision is not a new maximum
//   alrp_weights  (over P)  precision, rank and order outputs, positive grads, negatives' weight −g/FP
//   mean_loss     (1)       1 − mean(loss term)

export const AP_ALRP = /* wgsl */ `
@compute @workgroup_size(WG)
fn ap_pairs(@builtin(global_invocation_id) gid: vec3<u32>) {
  let P = used_positives();
  let r = gid.x;
  if (r >= P) { return; }
  let p = pos_f32(PF_SORTED_LOGIT, r);
  var rank = vec2<f32>(1.0, 0.0);
  var weighted = vec2<f32>(0.0, 0.0);
  for (var j = 0u; j < P; j++) {
    if (j == r) { continue; }
    let h = step_value(pos_f32(PF_SORTED_LOGIT, j) - p);
    kahan_add(&rank, h);
    if (params.has_regression == 1u) { kahan_add(&weighted, h * pos_f32(PF_REGRESSION, j)); }
  }
  set_pos_f32(PF_POSITIVE_RANK, r, kahan_value(rank));
  set_pos_f32(PF_PAIR_TERM, r, kahan_value(weighted));
}

fn precision_of(r: u32) -> f32 {
  let rank_pos = pos_f32(PF_POSITIVE_RANK, r);
  return rank_pos / (rank_pos + pos_f32(PF_FALSE_POSITIVES, r));
}

@compute @workgroup_size(WG)
fn ap_weights(@builtin(global_invocation_id) gid: vec3<u32>) {
  let P = used_positives();
  let r = gid.x;
  if (r >= P) { return; }
  // Running maximum over ascending logits (ties have equal precision, so their order is moot).
  var before = 0.0;
  for (var i = 0u; i < r; i++) { before = max(before, precision_of(i)); }
  let current = precision_of(r);
  let rank = pos_f32(PF_POSITIVE_RANK, r) + pos_f32(PF_FALSE_POSITIVES, r);
  var weight = 1.0 / rank;
  var max_precision = current;
  if (before > current) {
    max_precision = before;
    weight = (1.0 - before) / (1.0 - current) / rank;
  }
  set_pos_f32(PF_NEGATIVE_WEIGHT, r, weight);
  set_pos_f32(PF_LOSS_TERM, r, max_precision);
  out0[pos[pf(PF_SORTED_INDEX, r)]] = -(1.0 - max_precision) / f32(P);
}

@compute @workgroup_size(WG)
fn alrp_weights(@builtin(global_invocation_id) gid: vec3<u32>) {
  let P = used_positives();
  let r = gid.x;
  if (r >= P) { return; }
  let rank_pos = pos_f32(PF_POSITIVE_RANK, r);
  let fp = pos_f32(PF_FALSE_POSITIVES, r);
  let total = rank_pos + fp;
  let ordinal = pos[pf(PF_SORTED_ORDINAL, r)];
  out1[ordinal] = total;
  let order_at = 19u * params.capacity + 1u + 2u * r;
  pos[order_at] = ordinal;
  pos[order_at + 1u] = 0u;
  set_pos_f32(PF_LOSS_TERM, r, rank_pos / total);
  var weight = 0.0;
  if (fp > params.eps) {
    let g = -(pos_f32(PF_PAIR_TERM, r) + fp) / total;
    out0[pos[pf(PF_SORTED_INDEX, r)]] = g / f32(P);
    weight = -g / fp;
  }
  set_pos_f32(PF_NEGATIVE_WEIGHT, r, weight);
}

@compute @workgroup_size(WG)
fn mean_loss(@builtin(local_invocation_id) lid: vec3<u32>) {
  if (lid.x == 0u) { scan_length = used_positives(); }
  let P = workgroupUniformLoad(&scan_length);
  if (P == 0u) { return; }
  let total = reduce_positive_field(lid.x, PF_LOSS_TERM, P);
  if (lid.x == 0u) { atomicStore(&state[ST_LOSS_0], bitcast<u32>(1.0 - total / f32(P))); }
}
`;
