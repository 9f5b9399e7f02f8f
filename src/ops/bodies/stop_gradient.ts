// StopGradient: the identity in the forward graph; autodiff treats it as a wall.

import { FunctionBuilder } from "../../onnx/builder.ts";
import type { FunctionProto } from "../../onnx/proto.ts";
import { BODY_OPSET, DOMAIN, OPS } from "../domain.ts";

export function stopGradientFunction(): FunctionProto {
  const f = new FunctionBuilder(DOMAIN, "StopGradient", { "": BODY_OPSET }, [], OPS.StopGradient.doc, OPS.StopGradient.outputs);
  f.output(f.op1("Identity", [f.input("x")]), "y");
  return f.build();
}
