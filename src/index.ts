/**
 * ranksort — Rank & Sort Loss (Oksuz et al., ICCV 2021), AP Loss and aLRP Loss for TypeScript:
 * exact CPU kernels, `com.ranksort` ONNX operators with portable function bodies, a session that
 * runs models holding those operators, and train steps over ONNX.
 *
 * This entry runs in browsers as well as Node, Bun and Deno: nothing reachable from it imports a
 * `node:` module (model files, checkpoints and datasets are read through Node built-ins only when a
 * path is given). Layers with more: `ranksort/onnx`, `ranksort/train`, `ranksort/detect`,
 * `ranksort/webgpu`, `ranksort/cuda`, `ranksort/cases`.
 *
 * @packageDocumentation
 */

// Losses: the exact CPU kernels.
export {
  alrpLoss,
  apLoss,
  rankSortLoss,
  RankSortInputError,
  type ALRPLossOptions,
  type ALRPLossResult,
  type APLossOptions,
  type APLossResult,
  type RankSortOptions,
  type RankSortResult,
} from "../kernels/cpu/index.ts";

// Loss backends by name: "cpu", "ort-cpu", "ort-wasm", "ort-webgpu", "webgpu", "cuda", ….
export { backendNames, BackendUnavailableError, getBackend, type LossBackend } from "./backends/index.ts";

// Golden-format loss cases (parsing only; `ranksort/cases` reads files).
export { CaseFormatError, parseCase, type LossCase, type LossKind } from "./cases/golden_case.ts";

// The com.ranksort operators as ONNX models.
export { standaloneLossModel, type LossOpName, type StandaloneOptions } from "./ops/standalone_model.ts";
export { withFunctionBodies } from "./ops/library.ts";
export { DOMAIN, DOMAIN_VERSION } from "./ops/domain.ts";
export { decodeModel, encodeModel, ModelFormatError } from "./onnx/model_codec.ts";
export type { ModelProto } from "./onnx/proto.ts";

// Running models that hold com.ranksort nodes.
export { RankSortSession, type CustomOpMode, type ExecutionProvider, type RuntimeOptions } from "./runtime/session.ts";
export { RuntimeError, type HostDType, type HostTensor } from "./runtime/host_tensor.ts";

// Training any ONNX model with any loss: one train-step graph and its runner.
export { Trainer } from "./train/trainer.ts";
export { buildTrainStep, type OptimizerSpec, type TrainStepGraph, type TrainStepSpec } from "./train/train_step.ts";
export { buildMultiStep, type MultiStepGraph } from "./train/multi_step.ts";
export { apLossTerm, crossEntropyLoss, focalLoss, giouLoss, l1Loss, meanSquaredError, rankSortLossTerm, smoothL1Loss } from "./train/losses.ts";
export type { TensorOps } from "./onnx/tensor_ops.ts";
export type { DTypeName, Value } from "./onnx/builder.ts";
