// ONNX Runtime custom-op library entry: RegisterCustomOps adds the com.ranksort domain with
// RankSortLoss(Grad), APLoss(Grad) and ALRPLoss(Grad) (signatures of src/ops/domain.ts) for the
// CUDA execution provider (kernels on the EP's compute stream) and the CPU execution provider (the
// library's CPU port). Written against the plain C API, version 12 or later, so one build loads
// into any onnxruntime at least as new as the headers it was compiled with.
//
// Each CUDA kernel synchronises its stream once, to read the call's report: a bad input then fails
// the session run with the same message as the CPU kernels, and a case with more positives than
// the first workspace allowed is rerun with a larger one.
#include <cuda_runtime.h>
#include <onnxruntime_c_api.h>

#include <stdio.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "ranksort_cuda.h"

#if ORT_API_VERSION < 12
#error "ort_custom_ops.cc needs onnxruntime headers with ORT_API_VERSION >= 12 (onnxruntime 1.12 or later)"
#endif

namespace {

const OrtApi* g_api = nullptr;

enum class OpKind { RankSort, RankSortGrad, AP, APGrad, ALRP, ALRPGrad };

/** The signature of one op, as src/ops/domain.ts declares it. */
struct OpSignature {
  const char* name;
  OpKind kind;
  size_t inputs;
  size_t outputs;
  size_t required_outputs;
  float default_delta;
  float default_eps;  // unused by AP
  bool has_eps;
  bool order_output;  // ALRPLoss output 3 is int64
};

const OpSignature kSignatures[] = {
    {"RankSortLoss", OpKind::RankSort, 2, 4, 2, 0.5f, 1e-10f, true, false},
    {"RankSortLossGrad", OpKind::RankSortGrad, 4, 1, 1, 0.5f, 1e-10f, true, false},
    {"APLoss", OpKind::AP, 2, 2, 1, 1.0f, 0.0f, false, false},
    {"APLossGrad", OpKind::APGrad, 3, 1, 1, 1.0f, 0.0f, false, false},
    {"ALRPLoss", OpKind::ALRP, 3, 4, 1, 1.0f, 1e-5f, true, true},
    {"ALRPLossGrad", OpKind::ALRPGrad, 4, 1, 1, 1.0f, 1e-5f, true, false},
};

int loss_kind_of(OpKind k) {
  switch (k) {
    case OpKind::RankSort:
    case OpKind::RankSortGrad: return RANKSORT_LOSS_RANK_SORT;
    case OpKind::AP:
    case OpKind::APGrad: return RANKSORT_LOSS_AP;
    default: return RANKSORT_LOSS_ALRP;
  }
}

void check_ort(OrtStatus* status) {
  if (!status) return;
  std::string message = g_api->GetErrorMessage(status);
  g_api->ReleaseStatus(status);
  throw std::runtime_error("com.ranksort: " + message);
}

void check_ranksort(int status) {
  if (status != RANKSORT_OK) throw std::runtime_error(ranksort_last_error_message());
}

void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("com.ranksort: ") + what + ": " + cudaGetErrorString(e));
}

/** A float32 input: its data and element count (1-D tensors, or scalars for the upstream gradients). */
struct FloatInput {
  const float* data;
  int64_t count;
};

/** One registered op (for one execution provider); OrtCustomOp must be its first member. */
struct RankSortCustomOp {
  OrtCustomOp base;
  const OpSignature* sig;
  bool cuda;
};

/** The kernel instance: the node's attributes. */
struct RankSortKernel {
  const RankSortCustomOp* op;
  double delta;
  double eps;
};

float float_attribute(const OrtKernelInfo* info, const char* name, float fallback) {
  float value = fallback;
  OrtStatus* status = g_api->KernelInfoGetAttribute_float(info, name, &value);
  if (status) {  // absent: the op's default
    g_api->ReleaseStatus(status);
    return fallback;
  }
  return value;
}

FloatInput float_input(OrtKernelContext* ctx, const OpSignature& sig, size_t index) {
  const OrtValue* value = nullptr;
  check_ort(g_api->KernelContext_GetInput(ctx, index, &value));
  if (!value) throw std::runtime_error(std::string(sig.name) + ": input " + std::to_string(index) + " is missing");
  OrtTensorTypeAndShapeInfo* info = nullptr;
  check_ort(g_api->GetTensorTypeAndShape(value, &info));
  size_t count = 0;
  OrtStatus* status = g_api->GetTensorShapeElementCount(info, &count);
  g_api->ReleaseTensorTypeAndShapeInfo(info);
  check_ort(status);
  void* data = nullptr;
  check_ort(g_api->GetTensorMutableData(const_cast<OrtValue*>(value), &data));
  return FloatInput{static_cast<const float*>(data), static_cast<int64_t>(count)};
}

/** Output `index` with the given shape, or nullptr when the node omits that (optional) output. */
template <class T>
T* output(OrtKernelContext* ctx, size_t index, std::initializer_list<int64_t> shape) {
  size_t count = 0;
  check_ort(g_api->KernelContext_GetOutputCount(ctx, &count));
  if (index >= count) return nullptr;
  std::vector<int64_t> dims(shape);
  const int64_t unused_dim = 0;
  OrtValue* value = nullptr;
  check_ort(g_api->KernelContext_GetOutput(ctx, index, dims.empty() ? &unused_dim : dims.data(), dims.size(), &value));
  if (!value) return nullptr;
  void* data = nullptr;
  check_ort(g_api->GetTensorMutableData(value, &data));
  return static_cast<T*>(data);
}

// ---- CPU execution provider: the library's CPU port, host memory ----

void compute_cpu(const RankSortKernel& k, OrtKernelContext* ctx) {
  const OpSignature& sig = *k.op->sig;
  const FloatInput x = float_input(ctx, sig, 0), t = float_input(ctx, sig, 1);
  if (x.count != t.count) {
    throw std::runtime_error(std::string(sig.name) + ": logits has " + std::to_string(x.count) + " elements but targets has " +
                             std::to_string(t.count));
  }
  const int64_t n = x.count;
  const size_t un = static_cast<size_t>(n);
  switch (sig.kind) {
    case OpKind::RankSort:
    case OpKind::RankSortGrad: {
      std::vector<float> gr(un), gs(un);
      float losses[2] = {0, 0};
      check_ranksort(ranksort_rank_sort_cpu(x.data, t.data, n, k.delta, k.eps, gr.data(), gs.data(), nullptr, losses, nullptr));
      if (sig.kind == OpKind::RankSort) {
        *output<float>(ctx, 0, {}) = losses[0];
        *output<float>(ctx, 1, {}) = losses[1];
        if (float* o = output<float>(ctx, 2, {n})) std::copy(gr.begin(), gr.end(), o);
        if (float* o = output<float>(ctx, 3, {n})) std::copy(gs.begin(), gs.end(), o);
      } else {
        const float dr = float_input(ctx, sig, 2).data[0], ds = float_input(ctx, sig, 3).data[0];
        float* o = output<float>(ctx, 0, {n});
        for (size_t i = 0; i < un; i++) o[i] = dr * gr[i] + ds * gs[i];
      }
      return;
    }
    case OpKind::AP:
    case OpKind::APGrad: {
      std::vector<float> g(un);
      float loss = 0;
      check_ranksort(ranksort_ap_cpu(x.data, t.data, n, k.delta, g.data(), &loss, nullptr));
      if (sig.kind == OpKind::AP) {
        *output<float>(ctx, 0, {}) = loss;
        if (float* o = output<float>(ctx, 1, {n})) std::copy(g.begin(), g.end(), o);
      } else {
        const float d = float_input(ctx, sig, 2).data[0];
        float* o = output<float>(ctx, 0, {n});
        for (size_t i = 0; i < un; i++) o[i] = d * g[i];
      }
      return;
    }
    case OpKind::ALRP:
    case OpKind::ALRPGrad: {
      const FloatInput reg = float_input(ctx, sig, 2);
      const size_t m = static_cast<size_t>(reg.count);
      std::vector<float> g(un), rank(m > 0 ? m : 1);
      std::vector<int64_t> order(m > 0 ? m : 1);
      float loss = 0;
      check_ranksort(ranksort_alrp_cpu(x.data, t.data, n, reg.data, reg.count, k.delta, k.eps, g.data(), &loss, rank.data(), order.data(),
                                       nullptr));
      if (sig.kind == OpKind::ALRP) {
        *output<float>(ctx, 0, {}) = loss;
        if (float* o = output<float>(ctx, 1, {n})) std::copy(g.begin(), g.end(), o);
        if (float* o = output<float>(ctx, 2, {reg.count})) std::copy(rank.begin(), rank.begin() + m, o);
        if (int64_t* o = output<int64_t>(ctx, 3, {reg.count})) std::copy(order.begin(), order.begin() + m, o);
      } else {
        const float d = float_input(ctx, sig, 3).data[0];
        float* o = output<float>(ctx, 0, {n});
        for (size_t i = 0; i < un; i++) o[i] = d * g[i];
      }
      return;
    }
  }
}

// ---- CUDA execution provider: device memory, the EP's compute stream ----

/** Stream-ordered scratch for one call: the library's workspace, the losses and the report. */
class StreamScratch {
 public:
  explicit StreamScratch(cudaStream_t stream) : stream_(stream) {}
  ~StreamScratch() {
    for (void* p : blocks_) cudaFreeAsync(p, stream_);
  }
  void* alloc(size_t bytes) {
    void* p = nullptr;
    check_cuda(cudaMallocAsync(&p, bytes > 0 ? bytes : 1, stream_), "allocating scratch memory");
    blocks_.push_back(p);
    return p;
  }

 private:
  cudaStream_t stream_;
  std::vector<void*> blocks_;
};

/**
 * Run one loss on the device with positive capacity `capacity`; returns the host copy of the report.
 * `launch(workspace, bytes, capacity, losses, report)` makes the library call.
 */
template <class Launch>
ranksort_report run_device(int loss_kind, int64_t n, cudaStream_t stream, StreamScratch& scratch, float* losses, Launch launch) {
  int64_t capacity = n < 65536 ? n : 65536;
  for (int attempt = 0; attempt < 2; attempt++) {
    size_t bytes = 0;
    check_ranksort(ranksort_workspace_size(n, capacity, &bytes));
    void* workspace = scratch.alloc(bytes);
    auto* report = static_cast<ranksort_report*>(scratch.alloc(sizeof(ranksort_report)));
    check_ranksort(launch(workspace, bytes, capacity, losses, report));
    ranksort_report host{};
    check_cuda(cudaMemcpyAsync(&host, report, sizeof host, cudaMemcpyDeviceToHost, stream), "reading the report");
    check_cuda(cudaStreamSynchronize(stream), "running the kernels");
    if (host.status == RANKSORT_ERR_TOO_MANY_POSITIVES && attempt == 0) {
      capacity = host.num_positives;  // rerun once with room for every positive
      continue;
    }
    check_ranksort(ranksort_report_status(loss_kind, &host));
    return host;
  }
  throw std::runtime_error("com.ranksort: the positive count changed between two runs on the same inputs");
}

void compute_cuda(const RankSortKernel& k, OrtKernelContext* ctx) {
  const OpSignature& sig = *k.op->sig;
  void* stream_ptr = nullptr;
  check_ort(g_api->KernelContext_GetGPUComputeStream(ctx, &stream_ptr));
  const cudaStream_t stream = static_cast<cudaStream_t>(stream_ptr);
  const auto lib_stream = reinterpret_cast<ranksort_stream>(stream);
  const FloatInput x = float_input(ctx, sig, 0), t = float_input(ctx, sig, 1);
  if (x.count != t.count) {
    throw std::runtime_error(std::string(sig.name) + ": logits has " + std::to_string(x.count) + " elements but targets has " +
                             std::to_string(t.count));
  }
  const int64_t n = x.count;
  StreamScratch scratch(stream);
  auto* losses = static_cast<float*>(scratch.alloc(2 * sizeof(float)));
  switch (sig.kind) {
    case OpKind::RankSort:
    case OpKind::RankSortGrad: {
      float *gr, *gs;
      if (sig.kind == OpKind::RankSort) {
        gr = output<float>(ctx, 2, {n});
        gs = output<float>(ctx, 3, {n});
      } else {
        gr = output<float>(ctx, 0, {n});  // d_logits: the ranking part first, the weighted sum in place below
        gs = static_cast<float*>(scratch.alloc(sizeof(float) * static_cast<size_t>(n)));
      }
      run_device(RANKSORT_LOSS_RANK_SORT, n, stream, scratch, losses, [&](void* ws, size_t bytes, int64_t cap, float* l, ranksort_report* r) {
        return ranksort_rank_sort_device(x.data, t.data, n, k.delta, k.eps, cap, gr, gs, nullptr, l, r, ws, bytes, lib_stream);
      });
      if (sig.kind == OpKind::RankSort) {
        check_cuda(cudaMemcpyAsync(output<float>(ctx, 0, {}), losses, sizeof(float), cudaMemcpyDeviceToDevice, stream), "copying a loss");
        check_cuda(cudaMemcpyAsync(output<float>(ctx, 1, {}), losses + 1, sizeof(float), cudaMemcpyDeviceToDevice, stream), "copying a loss");
      } else {
        const float* dr = float_input(ctx, sig, 2).data;
        const float* ds = float_input(ctx, sig, 3).data;
        check_ranksort(ranksort_weighted_sum_device(gr, dr, gs, ds, gr, n, lib_stream));
      }
      return;
    }
    case OpKind::AP:
    case OpKind::APGrad: {
      float* g = sig.kind == OpKind::AP ? output<float>(ctx, 1, {n}) : output<float>(ctx, 0, {n});
      if (!g) g = static_cast<float*>(scratch.alloc(sizeof(float) * static_cast<size_t>(n)));
      run_device(RANKSORT_LOSS_AP, n, stream, scratch, losses, [&](void* ws, size_t bytes, int64_t cap, float* l, ranksort_report* r) {
        return ranksort_ap_device(x.data, t.data, n, k.delta, cap, g, l, r, ws, bytes, lib_stream);
      });
      if (sig.kind == OpKind::AP) {
        check_cuda(cudaMemcpyAsync(output<float>(ctx, 0, {}), losses, sizeof(float), cudaMemcpyDeviceToDevice, stream), "copying the loss");
      } else {
        check_ranksort(ranksort_weighted_sum_device(g, float_input(ctx, sig, 2).data, nullptr, nullptr, g, n, lib_stream));
      }
      return;
    }
    case OpKind::ALRP:
    case OpKind::ALRPGrad: {
      const FloatInput reg = float_input(ctx, sig, 2);
      float* g = sig.kind == OpKind::ALRP ? output<float>(ctx, 1, {n}) : output<float>(ctx, 0, {n});
      if (!g) g = static_cast<float*>(scratch.alloc(sizeof(float) * static_cast<size_t>(n)));
      float* rank = sig.kind == OpKind::ALRP ? output<float>(ctx, 2, {reg.count}) : nullptr;
      int64_t* order = sig.kind == OpKind::ALRP ? output<int64_t>(ctx, 3, {reg.count}) : nullptr;
      run_device(RANKSORT_LOSS_ALRP, n, stream, scratch, losses, [&](void* ws, size_t bytes, int64_t cap, float* l, ranksort_report* r) {
        return ranksort_alrp_device(x.data, t.data, n, reg.data, reg.count, k.delta, k.eps, cap, g, l, rank, order, r, ws, bytes, lib_stream);
      });
      if (sig.kind == OpKind::ALRP) {
        check_cuda(cudaMemcpyAsync(output<float>(ctx, 0, {}), losses, sizeof(float), cudaMemcpyDeviceToDevice, stream), "copying the loss");
      } else {
        check_ranksort(ranksort_weighted_sum_device(g, float_input(ctx, sig, 3).data, nullptr, nullptr, g, n, lib_stream));
      }
      return;
    }
  }
}

// ---- OrtCustomOp callbacks ----

const RankSortCustomOp& self(const OrtCustomOp* op) { return *reinterpret_cast<const RankSortCustomOp*>(op); }

void* ORT_API_CALL create_kernel(const OrtCustomOp* op, const OrtApi*, const OrtKernelInfo* info) {
  const RankSortCustomOp& o = self(op);
  auto* k = new RankSortKernel{&o, 0, 0};
  k->delta = float_attribute(info, "delta", o.sig->default_delta);
  k->eps = o.sig->has_eps ? float_attribute(info, "eps", o.sig->default_eps) : 0.0f;
  return k;
}

const char* ORT_API_CALL op_name(const OrtCustomOp* op) { return self(op).sig->name; }

const char* ORT_API_CALL op_provider(const OrtCustomOp* op) {
  return self(op).cuda ? "CUDAExecutionProvider" : "CPUExecutionProvider";
}

ONNXTensorElementDataType ORT_API_CALL input_type(const OrtCustomOp*, size_t) { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
size_t ORT_API_CALL input_count(const OrtCustomOp* op) { return self(op).sig->inputs; }
ONNXTensorElementDataType ORT_API_CALL output_type(const OrtCustomOp* op, size_t index) {
  return self(op).sig->order_output && index == 3 ? ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64 : ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
}
size_t ORT_API_CALL output_count(const OrtCustomOp* op) { return self(op).sig->outputs; }

OrtCustomOpInputOutputCharacteristic ORT_API_CALL input_characteristic(const OrtCustomOp*, size_t) {
  return INPUT_OUTPUT_REQUIRED;
}
OrtCustomOpInputOutputCharacteristic ORT_API_CALL output_characteristic(const OrtCustomOp* op, size_t index) {
  return index < self(op).sig->required_outputs ? INPUT_OUTPUT_REQUIRED : INPUT_OUTPUT_OPTIONAL;
}

void ORT_API_CALL kernel_compute(void* kernel, OrtKernelContext* ctx) {
  // onnxruntime turns an exception thrown here into a failed run carrying its message.
  const auto& k = *static_cast<RankSortKernel*>(kernel);
  if (k.op->cuda) compute_cuda(k, ctx);
  else compute_cpu(k, ctx);
}

void ORT_API_CALL kernel_destroy(void* kernel) { delete static_cast<RankSortKernel*>(kernel); }

RankSortCustomOp make_op(const OpSignature* sig, bool cuda) {
  RankSortCustomOp op{};
  op.base.version = ORT_API_VERSION;
  op.base.CreateKernel = create_kernel;
  op.base.GetName = op_name;
  op.base.GetExecutionProviderType = op_provider;
  op.base.GetInputType = input_type;
  op.base.GetInputTypeCount = input_count;
  op.base.GetOutputType = output_type;
  op.base.GetOutputTypeCount = output_count;
  op.base.KernelCompute = kernel_compute;
  op.base.KernelDestroy = kernel_destroy;
  op.base.GetInputCharacteristic = input_characteristic;
  op.base.GetOutputCharacteristic = output_characteristic;
  op.sig = sig;
  op.cuda = cuda;
  return op;
}

constexpr size_t kOpCount = sizeof(kSignatures) / sizeof(kSignatures[0]);

/** Every op for both providers; static because sessions keep pointers to them. */
std::vector<RankSortCustomOp>& registered_ops() {
  static std::vector<RankSortCustomOp> ops = [] {
    std::vector<RankSortCustomOp> v;
    for (size_t i = 0; i < kOpCount; i++) {
      v.push_back(make_op(&kSignatures[i], false));
      v.push_back(make_op(&kSignatures[i], true));
    }
    return v;
  }();
  return ops;
}

}  // namespace

extern "C" RANKSORT_API OrtStatus* ORT_API_CALL RegisterCustomOps(OrtSessionOptions* options, const OrtApiBase* api_base) {
  g_api = api_base->GetApi(ORT_API_VERSION);
  if (!g_api) {
    // No API of our version means an onnxruntime older than the headers we were built with; without
    // an API there is no way to build an OrtStatus, so say it here.
    fprintf(stderr, "com.ranksort: this onnxruntime does not provide C API version %d; rebuild libranksort_cuda with its headers\n",
            ORT_API_VERSION);
    return nullptr;
  }
  OrtCustomOpDomain* domain = nullptr;
  if (OrtStatus* s = g_api->CreateCustomOpDomain("com.ranksort", &domain)) return s;
  for (RankSortCustomOp& op : registered_ops()) {
    if (OrtStatus* s = g_api->CustomOpDomain_Add(domain, &op.base)) return s;
  }
  // The domain must outlive every session that uses it, so it is never released.
  return g_api->AddCustomOpDomain(options, domain);
}
