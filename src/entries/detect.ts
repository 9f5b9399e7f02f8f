/**
 * `ranksort/detect`: fine-tuning exported detectors with Rank & Sort loss (`trainDetector`), running
 * them on images (`DetectorRunner`, `predict`, `predictFiles`), COCO AP and oLRP, presets and
 * adapters, box geometry, assigners, post-processing, COCO-format data and drawing.
 *
 * @packageDocumentation
 */
export { adapterNormalisation, AdapterError, anchorLayout, checkAdapterFields, loadAdapter, PRESETS, type AdapterLevel, type AnchorLayout, type DetectorAdapter, type SSDDefaultBoxes } from "../detect/adapter.ts";
export { bindDetector, type BoundDetector, type ModelImageInput } from "../detect/detector_binding.ts";
export { formatInspection, inspectModel, type Inspection } from "../detect/inspect_model.ts";
export { checkDropIn, DropInError, modelOwnDetections, type DropInCheck } from "../detect/dropin_check.ts";
export { trainDetector, type DetectorTrainConfig, type EpochMetrics, type Progress } from "../detect/detector_training.ts";
export { DetectorRunner, type DetectorRunnerOptions, type ImageDetection } from "../detect/run_detector.ts";
export { cocoResults, predict, type CocoResult, type PredictOptions } from "../detect/predict.ts";
export { imageFiles, predictFiles, readCategories, type Category, type PredictFilesOptions, type PredictFilesResult } from "../detect/predict_files.ts";
export { evaluateDetector } from "../detect/evaluate_detector.ts";
export { cocoMetrics, type COCOMetrics, type Detection, type EvaluationOptions, type GroundTruth } from "../detect/evaluate.ts";
export { DEFAULT_POSTPROCESS, postprocess, type PostprocessOptions, type RawDetection } from "../detect/postprocess.ts";
export { area, giou, iou, iouMatrix, type Boxes } from "../detect/boxes.ts";
export { decodeDelta, decodeDistance, encodeDelta, encodeDistance, type BoxCoder } from "../detect/box_coders.ts";
export { assignATSS, assignMaxIoU, classTargets, ignoreCrowdAnchors, type Assignment } from "../detect/assigners.ts";
export { CLASS_COLOURS, drawBoxes, type DrawnBox } from "../detect/draw_boxes.ts";
export { writeReport } from "../detect/report.ts";
export { DatasetError, loadCoco, type CocoDataset, type DetectionSample } from "../data/coco.ts";
export { decodeImage, encodeRGBPng, ImageError, readImage, type RGBImage } from "../data/image.ts";
export { writeSyntheticDataset, type SyntheticSpec } from "../data/synthetic_dataset.ts";
// The pieces of a training run for hosts with their own loop (the browser app's worker): data held
// in memory, batches, the train step and its schedule.
export { clearMemoryFiles, memoryFile, putMemoryFiles } from "../data/memory_files.ts";
export { batchPlan, imageBatches, makeBatch, split, type Batch, type BatchPlan } from "../detect/detector_batches.ts";
export { createDetectorTrainer, resolveBatch, type DetectorTrainer, type DetectorTrainerOptions } from "../detect/detector_trainer.ts";
export { epochOrder, stepLearningRate, stepPicks, stepRandom } from "../detect/train_schedule.ts";
