// The detectors ranksort knows by name: their head tensors, coders, anchors, inputs and the model's own
// post-processing. An adapter JSON of the same shape describes any other model.

import type { AdapterLevel, DetectorAdapter } from "./adapter.ts";

export const DELTA_CODER = { kind: "delta-xywh" as const, means: [0, 0, 0, 0] as [number, number, number, number], stds: [0.1, 0.1, 0.2, 0.2] as [number, number, number, number] };

/** Levels of an export that emits class outputs out0…out(L−1), then box outputs outL…out(2L−1). */
function headOutputs(strides: number[]): AdapterLevel[] {
  return strides.map((stride, i) => ({ stride, classes: `out${i}`, boxes: `out${i + strides.length}` }));
}

export const PRESETS: Record<string, DetectorAdapter> = {
  "tiny-fcos": {
    name: "tiny-fcos",
    numClasses: 3,
    imageSize: 128,
    levels: headOutputs([8, 16, 32]),
    coder: "distance-exp",
    anchorScale: 8,
  },
  // torchvision's FCOS / RetinaNet (ResNet-18-FPN, P3–P7) as models/export_torchvision.py exports
  // them, 3 classes (the synthetic data); an adapter JSON of the same shape sets other class counts.
  // Decoding is ranksort's (exp distances / 0.1-0.2 deltas), a choice when fine-tuning from scratch.
  "torchvision-fcos": {
    name: "torchvision-fcos",
    numClasses: 3,
    imageSize: 128,
    levels: headOutputs([8, 16, 32, 64, 128]),
    coder: "distance-exp",
    anchorScale: 8,
  },
  "torchvision-retinanet": {
    name: "torchvision-retinanet",
    numClasses: 3,
    imageSize: 128,
    levels: headOutputs([8, 16, 32, 64, 128]),
    coder: "delta-xywh",
    anchorScale: 4,
    scalesPerOctave: 3,
    ratios: [0.5, 1, 2],
    assigner: "max-iou",
  },
  "tiny-retinanet": {
    name: "tiny-retinanet",
    numClasses: 3,
    imageSize: 128,
    levels: headOutputs([8, 16, 32]),
    coder: "delta-xywh",
    anchorScale: 4,
    scalesPerOctave: 3,
    ratios: [0.5, 1, 2],
    assigner: "max-iou",
  },
  // torchvision's ssdlite320_mobilenet_v3_large at a 128² input (six maps: 8, 4, 2, 1, 1, 1), its
  // default boxes and [-1, 1] inputs; the softmax background logit is dropped for RS's sigmoids.
  "torchvision-ssdlite": {
    name: "torchvision-ssdlite",
    numClasses: 3,
    imageSize: 128,
    levels: headOutputs([0, 0, 0, 0, 0, 0]), // strides come from ssdDefaultBoxes
    coder: "delta-xywh",
    anchorScale: 0,
    ssdDefaultBoxes: { featureSizes: [8, 4, 2, 1, 1, 1], scales: [0.2, 0.35, 0.5, 0.65, 0.8, 0.95, 1.0], aspectRatios: [2, 3] },
    backgroundChannel: true,
    assigner: "max-iou",
    normalisation: { mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5] },
  },
};


// torchvision's full detection exports, made the ordinary way (`torch.onnx.export(model.eval(),
// ([img],), path, opset_version=17)`): an unbatched [3, H, W] input in 0…1 that the graph normalises
// itself, head tensors inside the graph (named after torchvision's modules, so any backbone fits),
// torchvision's own anchors, box coders, scoring and post-processing — so ranksort's evaluation
// equals the exported model's own outputs and the trained file is a drop-in. Class channel 0 is
// torchvision's background label; the class count and image size come from the model.
const suffix = (i: number) => (i ? `_${i}` : "");
const ZERO_TO_ONE = { mean: [0, 0, 0] as [number, number, number], std: [255, 255, 255] as [number, number, number] };
const TORCHVISION_OUTPUTS = { boxes: 0, scores: 1, labels: 2 };
const FPN_STRIDES = [8, 16, 32, 64, 128];

PRESETS["retinanet_resnet50_fpn"] = {
  name: "retinanet_resnet50_fpn",
  numClasses: 0,
  imageSize: 0,
  levels: FPN_STRIDES.map((stride, i) => ({ stride, classes: `/head/classification_head/cls_logits${suffix(i)}/Conv_output_0`, boxes: `/head/regression_head/bbox_reg${suffix(i)}/Conv_output_0` })),
  coder: "delta-xywh",
  deltaCoder: { weights: [1, 1, 1, 1], clamp: Math.log(1000 / 16), symmetricClamp: false },
  anchorGenerator: { sizes: [32, 64, 128, 256, 512].map((x) => [x, Math.trunc(x * 2 ** (1 / 3)), Math.trunc(x * 2 ** (2 / 3))]), ratios: [0.5, 1, 2] },
  anchorScale: 4,
  assigner: "max-iou",
  backgroundChannel: "unused",
  normalisation: ZERO_TO_ONE,
  postprocess: { scoreThreshold: 0.05, nmsIoU: 0.5, maxDetections: 300, preNmsTopK: 1000, topKPer: "level", clip: true },
  modelDetections: TORCHVISION_OUTPUTS,
};

PRESETS["fcos_resnet50_fpn"] = {
  name: "fcos_resnet50_fpn",
  numClasses: 0,
  imageSize: 0,
  levels: FPN_STRIDES.map((stride, i) => ({
    stride,
    classes: `/head/classification_head/cls_logits${suffix(i)}/Conv_output_0`,
    boxes: `/head/regression_head/bbox_reg${suffix(i)}/Conv_output_0`,
    centerness: `/head/regression_head/bbox_ctrness${suffix(i)}/Conv_output_0`,
  })),
  coder: "distance-linear",
  anchorGenerator: { sizes: FPN_STRIDES.map((s) => [s]), ratios: [1] },
  anchorScale: 8,
  assigner: "atss",
  backgroundChannel: "unused",
  scoring: "sigmoid-centerness",
  normalisation: ZERO_TO_ONE,
  postprocess: { scoreThreshold: 0.2, nmsIoU: 0.6, maxDetections: 100, preNmsTopK: 1000, topKPer: "level", clip: true },
  modelDetections: TORCHVISION_OUTPUTS,
};

PRESETS["ssdlite320_mobilenet_v3_large"] = {
  name: "ssdlite320_mobilenet_v3_large",
  numClasses: 0,
  imageSize: 0,
  levels: [0, 1, 2, 3, 4, 5].map((k) => ({
    stride: 0, // from the default boxes
    classes: `/head/classification_head/module_list.${k}/module_list.${k}.1/Conv_output_0`,
    boxes: `/head/regression_head/module_list.${k}/module_list.${k}.1/Conv_output_0`,
  })),
  coder: "delta-xywh",
  deltaCoder: { weights: [10, 10, 5, 5], clamp: Math.log(1000 / 16), symmetricClamp: false },
  anchorScale: 0,
  ssdDefaultBoxes: { scales: [0.2, 0.35, 0.5, 0.65, 0.8, 0.95, 1.0], aspectRatios: [2, 3] },
  assigner: "max-iou",
  backgroundChannel: "softmax",
  normalisation: ZERO_TO_ONE,
  postprocess: { scoreThreshold: 0.001, nmsIoU: 0.55, maxDetections: 300, preNmsTopK: 300, topKPer: "class", clip: true },
  modelDetections: TORCHVISION_OUTPUTS,
};
