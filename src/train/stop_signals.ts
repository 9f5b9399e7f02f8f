// SIGINT/SIGTERM during training: the first asks the loop to stop at the next step boundary (it
// then commits a checkpoint and says how to resume); a second one exits at once — the last commit
// is intact either way.

export interface StopWatch {
  /** The signal received, once one was. */
  readonly signal: NodeJS.Signals | undefined;
  dispose(): void;
}

export function watchStopSignals(onFirst: (signal: NodeJS.Signals) => void = () => {}): StopWatch {
  let received: NodeJS.Signals | undefined;
  const handler = (signal: NodeJS.Signals) => {
    if (received) process.exit(signal === "SIGINT" ? 130 : 143);
    received = signal;
    onFirst(signal);
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return {
    get signal() {
      return received;
    },
    dispose() {
      process.off("SIGINT", handler);
      process.off("SIGTERM", handler);
    },
  };
}

/** Training stopped on a signal after committing its progress; exit 128 + the signal's number. */
export class InterruptedError extends Error {
  override name = "InterruptedError";
  readonly exitCode: number;
  constructor(signal: NodeJS.Signals, message: string) {
    super(message);
    this.exitCode = signal === "SIGINT" ? 130 : 143;
  }
}
