// onnxruntime-node and onnxruntime-web are optional peer dependencies: the user installs the one
// their host needs. A missing one becomes a one-line error that names the package to install.
// The imports stay literal at each call site so that bundlers still see and bundle them.

import { RuntimeError } from "./host_tensor.ts";

export type OrtPackage = "onnxruntime-node" | "onnxruntime-web";

/** `.catch()` handler for `import("<pkg>")`: a missing package → RuntimeError naming it; other errors pass. */
export function missingPeer(pkg: OrtPackage, purpose: string): (e: unknown) => never {
  return (e: unknown) => {
    const message = String((e as Error)?.message ?? e);
    const notFound = /cannot find (package|module)|could not find|not found|failed to resolve|unable to resolve/i.test(message) && message.includes(pkg);
    if (notFound) throw new RuntimeError(`${purpose} needs the package ${pkg}, which is not installed: npm install ${pkg}`);
    throw e;
  };
}
