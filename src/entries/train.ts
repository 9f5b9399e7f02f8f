/**
 * `ranksort/train`: train-step graphs for any ONNX model and loss (SGD with momentum/Nesterov,
 * AdamW, weight decay, clipping, frozen parameters), the `Trainer` that runs them, loss terms,
 * checkpoints and precise BatchNorm.
 *
 * @packageDocumentation
 */
export { Trainer } from "../train/trainer.ts";
export { buildTrainStep, LEARNING_RATE, STEP, type OptimizerSpec, type TrainStepGraph, type TrainStepSpec } from "../train/train_step.ts";
export { apLossTerm, crossEntropyLoss, focalLoss, giouLoss, l1Loss, meanSquaredError, rankSortLossTerm, smoothL1Loss } from "../train/losses.ts";
export { CheckpointError, readCheckpoint, writeCheckpoint, type Checkpoint } from "../train/checkpoint.ts";
export { recalibrateBatchNorm } from "../train/precise_batch_norm.ts";
export type { HostTensor } from "../runtime/host_tensor.ts";
export type { ExecutionProvider } from "../runtime/session.ts";
