// How the command line reports an error: one line `ranksort <command>: …`. Errors of ranksort's
// own classes and operating-system errors on the user's paths are the user's to fix (exit 2);
// anything else is a bug (exit 1, with a request to report it). RANKSORT_DEBUG=1 adds the stack.

/** Error classes whose messages name the problem for the user (matched by name: no imports). */
const USER_ERRORS = new Set([
  "UsageError", "RankSortInputError", "CaseFormatError", "BackendUnavailableError", "ModelFormatError", "GradientError",
  "RuntimeError", "ModelValidationError", "DatasetError", "ImageError", "AdapterError", "CheckpointError", "DivergenceError",
  "RunFolderError", "FileWriteError", "InterruptedError", "WebGpuUnavailableError", "CutError", "FreezeError", "DropInError",
]);

const OS_REASONS: Record<string, string> = {
  ENOENT: "no such file or folder",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EISDIR: "it is a folder",
  ENOTDIR: "a part of the path is not a folder",
  ENOSPC: "no space left on the device",
  EROFS: "the file system is read-only",
  EEXIST: "it already exists",
  EMFILE: "too many open files",
  ENAMETOOLONG: "the name is too long",
};

export interface ErrorReport {
  text: string;
  exitCode: number;
}

export function reportError(command: string, e: unknown, debug = process.env.RANKSORT_DEBUG === "1"): ErrorReport {
  const err = e instanceof Error ? e : new Error(String(e));
  const code = (err as { code?: string }).code;
  const stack = debug && err.stack ? `\n${err.stack}` : "";
  const oneLine = (s: string) => s.replace(/\s*\n+\s*/g, " ").trim();
  if (USER_ERRORS.has(err.name) || code?.startsWith("ERR_PARSE_ARGS")) {
    // A usage error may carry the usage text after a blank line: that is meant to be shown.
    const text = err.name === "UsageError" ? err.message : oneLine(err.message);
    const exitCode = typeof (err as { exitCode?: unknown }).exitCode === "number" ? (err as unknown as { exitCode: number }).exitCode : 2;
    return { text: `ranksort ${command}: ${text}${stack}`, exitCode };
  }
  if (code && OS_REASONS[code]) {
    const path = (err as { path?: string }).path;
    const syscall = (err as { syscall?: string }).syscall;
    return { text: `ranksort ${command}: cannot ${syscall ?? "access"} ${path ?? ""}: ${OS_REASONS[code]} (${code})${stack}`.replace("  ", " "), exitCode: 2 };
  }
  return {
    text: `ranksort ${command}: internal error: ${oneLine(err.message)} — this is a bug in ranksort; please report it with the command and the output of RANKSORT_DEBUG=1${stack}`,
    exitCode: 1,
  };
}
