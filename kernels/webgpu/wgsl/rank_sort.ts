// RankSort's own passes (the shared ones do the negatives):
//   rank_sort_pairs    (over P)  rank⁺, the current and target sorting sums, SE and its weight SE/D
//   rank_sort_receive  (over P)  sorting gradient each positive receives from higher-target ones
//   rank_sort_weights  (over P)  ranking error from FP, the negatives' weight 1/rank, ranking grads
//   rank_sort_losses   (1)       mean ranking and sorting errors
// Pairwise sums over positives mirror the reference's own P×P terms, add non-negative values only,
// and run one thread per positive.

export const RANK_SORT = /* wgsl */ `
@compute @workgroup_size(WG)
fn rank_sort_pairs(@builtin(global_invocation_id) gid: vec3<u32>) {
  let P = used_positives();
  let r = gid.x;
  if (r >= P) { return; }
  let p = pos_f32(PF_SORTED_LOGIT, r);
  let t = pos_f32(PF_SORTED_TARGET, r);
  var rank = vec2<f32>(0.0, 0.0);
  var current = vec2<f32>(0.0, 0.0);  // Σ_j H_ij (1 - t_j)
  var at_least = vec2<f32>(0.0, 0.0); // Σ_{t_j >= t_i} H_ij
  var at_least_miss = vec2<f32>(0.0, 0.0);
  var lower = vec2<f32>(0.0, 0.0);    // Σ_{t_j < t_i} H_ij, the sorting pmf's denominator
  var lower_reaching = 0u;
  for (var j = 0u; j < P; j++) {
    let h = step_value(pos_f32(PF_SORTED_LOGIT, j) - p);
    let tj = pos_f32(PF_SORTED_TARGET, j);
    let miss = h * (1.0 - tj);
    kahan_add(&rank, h);
    kahan_add(&current, miss);
    if (tj >= t) {
      kahan_add(&at_least, h);
      kahan_add(&at_least_miss, miss);
    } else if (h > 0.0) {
      kahan_add(&lower, h);
      lower_reaching++;
    }
  }
  let rank_pos = kahan_value(rank);
  let sorting_error = kahan_value(current) / rank_pos - kahan_value(at_least_miss) / kahan_value(at_least);
  let denominator = select(0.0, kahan_value(lower), lower_reaching > 0u);
  set_pos_f32(PF_POSITIVE_RANK, r, rank_pos);
  set_pos_f32(PF_SORTING_ERROR, r, sorting_error);
  let gated = denominator > params.eps;
  set_pos_f32(PF_SORTING_WEIGHT, r, select(0.0, sorting_error / denominator, gated));
  set_pos_f32(PF_OWN_SORTING, r, select(0.0, -sorting_error, gated));
}

@compute @workgroup_size(WG)
fn rank_sort_receive(@builtin(global_invocation_id) gid: vec3<u32>) {
  let P = used_positives();
  let r = gid.x;
  if (r >= P) { return; }
  let p = pos_f32(PF_SORTED_LOGIT, r);
  let t = pos_f32(PF_SORTED_TARGET, r);
  var received = vec2<f32>(pos_f32(PF_OWN_SORTING, r), 0.0);
  for (var i = 0u; i < P; i++) {
    let w = pos_f32(PF_SORTING_WEIGHT, i);
    if (w == 0.0 || pos_f32(PF_SORTED_TARGET, i) <= t) { continue; }
    kahan_add(&received, w * step_value(p - pos_f32(PF_SORTED_LOGIT, i)));
  }
  out1[pos[pf(PF_SORTED_INDEX, r)]] = kahan_value(received) / f32(P);
}

@compute @workgroup_size(WG)
fn rank_sort_weights(@builtin(global_invocation_id) gid: vec3<u32>) {
  let P = used_positives();
  let r = gid.x;
  if (r >= P) { return; }
  let fp = pos_f32(PF_FALSE_POSITIVES, r);
  let rank = pos_f32(PF_POSITIVE_RANK, r) + fp;
  let ranking_error = fp / rank;
  set_pos_f32(PF_LOSS_TERM, r, ranking_error);
  let gated = fp > params.eps;
  set_pos_f32(PF_NEGATIVE_WEIGHT, r, select(0.0, 1.0 / rank, gated));
  out0[pos[pf(PF_SORTED_INDEX, r)]] = select(0.0, -ranking_error, gated) / f32(P);
}

@compute @workgroup_size(WG)
fn rank_sort_losses(@builtin(local_invocation_id) lid: vec3<u32>) {
  if (lid.x == 0u) { scan_length = used_positives(); }
  let P = workgroupUniformLoad(&scan_length);
  if (P == 0u) { return; }
  let ranking = reduce_positive_field(lid.x, PF_LOSS_TERM, P);
  let sorting = reduce_positive_field(lid.x, PF_SORTING_ERROR, P);
  if (lid.x == 0u) {
    atomicStore(&state[ST_LOSS_0], bitcast<u32>(ranking / f32(P)));
    atomicStore(&state[ST_LOSS_1], bitcast<u32>(sorting / f32(P)));
  }
}
`;
