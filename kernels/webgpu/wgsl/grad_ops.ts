// The Grad ops' last step: weight the gradients by the upstream gradients (scalars on the GPU).
//   combine_rank_sort  out0 = d_ranking · out0 + d_sorting · out1
//   scale_grad         out0 = d_loss · out0

export const GRAD_OPS = /* wgsl */ `
@compute @workgroup_size(WG)
fn combine_rank_sort(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let d0 = bitcast<f32>(atomicLoad(&state[ST_UPSTREAM_0]));
  let d1 = bitcast<f32>(atomicLoad(&state[ST_UPSTREAM_1]));
  for (var k = gid.x; k < params.n; k += nwg.x * WG) { out0[k] = d0 * out0[k] + d1 * out1[k]; }
}

@compute @workgroup_size(WG)
fn scale_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let d0 = bitcast<f32>(atomicLoad(&state[ST_UPSTREAM_0]));
  for (var k = gid.x; k < params.n; k += nwg.x * WG) { out0[k] = d0 * out0[k]; }
}
`;
