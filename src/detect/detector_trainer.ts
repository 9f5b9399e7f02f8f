// The train step of a bound detector — graph copies, batch plan, frozen initializers, optimizer and
// detection loss — made one way for every host (the CLI's run loop, the browser app's worker), so
// the same seed and backend give the same losses everywhere.

import { tensorShell } from "../onnx/builder.ts";
import type { ModelProto } from "../onnx/proto.ts";
import { replicateGraph } from "../onnx/replicate.ts";
import type { ExecutionProvider } from "../runtime/session.ts";
import { frozenInitializers } from "../train/freeze.ts";
import { Trainer } from "../train/trainer.ts";
import { AdapterError } from "./adapter.ts";
import { type BatchPlan, batchPlan } from "./detector_batches.ts";
import type { BoundDetector } from "./detector_binding.ts";
import { detectionLoss } from "./detector_loss.ts";

export interface DetectorTrainerOptions {
  batchSize: number;
  optimizer: "sgd" | "adamw";
  loss: "rs" | "focal";
  backend: ExecutionProvider;
  /** Where the loss ops run: "body" (ONNX function bodies in the EP) or a kernel backend name. */
  lossKernels?: string;
  /** Initializer patterns to keep fixed, besides the adapter's `frozen`. */
  freeze?: string[];
  /** Train steps per session run (Trainer's `stepsPerRun`; its default when undefined). */
  stepsPerRun?: number;
}

export interface DetectorTrainer {
  trainer: Trainer;
  plan: BatchPlan;
  /** Graph copies in the train step (one per image for one-image-per-run models). */
  copies: number;
  frozen: Set<string>;
}

/** The batch size a model takes: its static batch when it has one, else the config's (checked against it). */
export function resolveBatch(bound: BoundDetector, requested: number | undefined, label: string): number {
  const k = bound.input.staticBatch;
  if (bound.input.layout === "NCHW" && k !== undefined) {
    if (requested !== undefined && requested !== k) {
      throw new AdapterError(`${label} has a static batch of ${k} (input "${bound.input.name}" is [${k}, 3, ${bound.input.size}, ${bound.input.size}]), so --batch must be ${k}; got ${requested} (re-export with a dynamic batch axis to train larger batches)`);
    }
    return k;
  }
  return requested ?? 8;
}

/** The Trainer for a bound detector with its batch plan: what `trainDetector` runs, for hosts with their own run loop. */
export async function createDetectorTrainer(bound: BoundDetector, o: DetectorTrainerOptions): Promise<DetectorTrainer> {
  // One graph copy per image for one-image-per-run models ([3, H, W] input), else one for the batch.
  const copies = bound.input.layout === "CHW" ? o.batchSize : 1;
  const replicated = replicateGraph(bound.heads, copies);
  const plan = batchPlan(bound, o.batchSize, replicated.nameIn);
  const frozen = frozenInitializers(bound.model, [...(bound.adapter.frozen ?? []), ...(o.freeze ?? [])]);
  // A native model's decode constants (anchor points, strides, DFL weights) are buffers, not weights.
  for (const name of bound.native?.decodeConstants ?? []) frozen.add(name);
  const trainer = await Trainer.create(
    {
      model: replicated.model,
      inferenceModel: bound.model,
      untieExportTies: false,
      frozen: (name) => frozen.has(name),
      optimizer: o.optimizer === "sgd" ? { kind: "sgd", momentum: 0.9, weightDecay: 1e-4 } : { kind: "adamw", weightDecay: 1e-4 },
      clipGradNorm: 10,
      loss: detectionLoss(plan, o.loss, replicated.nameIn),
    },
    { executionProvider: o.backend, lossKernels: o.lossKernels, stepsPerRun: o.stepsPerRun },
  );
  return { trainer, plan, copies, frozen };
}

/**
 * For a run that owns its bound detector, once the trainer holds the weights: the detector's own
 * trained initializers (views of the model file, as read) would only keep the file's memory alive —
 * a ResNet-50 detector's 129 MB for the whole run. They keep name, dims and type; the data is the
 * trainer's (`exportModel`). The bound model and heads cannot be run after this.
 */
export function releaseTrainedWeights(bound: BoundDetector, trainer: Trainer): void {
  const trained = new Set([...trainer.graph.parameters, ...trainer.graph.buffers]);
  const shell = (m: ModelProto) => {
    m.graph!.initializer = m.graph!.initializer.map((t) => (trained.has(t.name) ? tensorShell(t) : t));
  };
  shell(bound.model);
  shell(bound.heads);
}
