// A training run folder that never loses work: one owner at a time (a lock file holding the pid),
// and one commit point per epoch. An epoch's files (checkpoint, metrics, model, evaluation, …) are
// staged in RUN/.pending/, then RUN/.pending/COMMIT — the journal naming them and their SHA-256 —
// is written durably: that rename is the commit. The staged files then move into RUN/ and
// RUN/state.json (the same record) is written. A process killed at any moment leaves either the old
// epoch (no journal: the staging is discarded on the next start) or the new one (a journal: the
// moves are redone). Nothing is ever half of one epoch and half of the next.

import { createHash } from "node:crypto";
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { type FileContent, fileWriteError, removeStaleTempFiles, syncDirectory, writeFileAtomic } from "../util/atomic_write.ts";

/** A problem with the run folder or a resume request: one line, the user's to fix (exit 2). */
export class RunFolderError extends Error {
  override name = "RunFolderError";
}

export interface RunState {
  format: "ranksort-run";
  version: 1;
  /** The last committed epoch (0: the model before training was evaluated). */
  epoch: number;
  /** The epochs the run was asked for. */
  epochs: number;
  /** Set when an interrupted epoch's progress was committed mid-way (its checkpoint is mid-epoch). */
  partial?: { step: number; lossSum: number; componentSums: Record<string, number>; trainSeconds: number };
  /** SHA-256 of every committed file, by name in RUN/. */
  files: Record<string, string>;
}

const STATE = "state.json";
const PENDING = ".pending";
const JOURNAL = "COMMIT";
const LOCK = "lock";
/** Files a run writes (cleared by --overwrite). */
export const RUN_FILES = ["checkpoint.bin", "metrics.json", "model.onnx", "evaluation.json", "run.json", STATE, "report.html"];

export function sha256(data: FileContent): string {
  const hash = createHash("sha256");
  for (const chunk of typeof data === "string" || data instanceof Uint8Array ? [data] : data) hash.update(chunk);
  return hash.digest("hex");
}

// ---------------------------------------------------------------- lock

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === "EPERM";
  }
}

/**
 * Take RUN/lock (created exclusively, holding this pid and host). A lock whose owner is gone (same host, pid
 * not running) is stale and taken over; a live owner's is refused. Returns the release function.
 */
export function lockRunFolder(dir: string): () => void {
  const path = join(dir, LOCK);
  // The lock appears whole or not at all: written beside it, then hard-linked (fails if it exists).
  const mine = join(dir, `.${LOCK}.${process.pid}.${Date.now()}.tmp`);
  try {
    writeFileSync(mine, JSON.stringify({ pid: process.pid, host: hostname(), started: new Date().toISOString() }));
  } catch (e) {
    throw fileWriteError(path, e);
  }
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(mine, path);
      } catch (e) {
        if ((e as { code?: string }).code !== "EEXIST") throw fileWriteError(path, e);
        let owner: { pid?: number; host?: string; started?: string } = {};
        let seen = "";
        try {
          seen = readFileSync(path, "utf8");
          owner = JSON.parse(seen);
        } catch {
          // unreadable: not a lock this ranksort wrote; treat it as stale
        }
        const live = typeof owner.pid === "number" && (owner.host !== hostname() || processAlive(owner.pid));
        if (live) throw new RunFolderError(`${dir} is in use by another ranksort train (pid ${owner.pid}${owner.host !== hostname() ? ` on ${owner.host}` : ""}, since ${owner.started}); lock file ${path} (remove it if no such run is going on)`);
        // Stale: move it aside under a name of our own, so two processes cannot both remove one lock;
        // if what moved is not the stale lock we read (another process took over meanwhile), put it back.
        const aside = join(dir, `.${LOCK}.stale.${process.pid}.${Date.now()}.tmp`);
        try {
          renameSync(path, aside);
          if (readFileSync(aside, "utf8") !== seen) linkSync(aside, path);
        } catch {
          // another process took it over first; try again
        }
        rmSync(aside, { force: true });
        continue;
      }
      return () => {
        try {
          if ((JSON.parse(readFileSync(path, "utf8")) as { pid?: number }).pid === process.pid) rmSync(path, { force: true });
        } catch {
          // already gone
        }
      };
    }
  } finally {
    rmSync(mine, { force: true });
  }
  throw new RunFolderError(`${dir}: could not take the lock ${path}`);
}

// ---------------------------------------------------------------- commit and recovery

/** Stage `files`, write the journal (the commit point), then move them into place. */
export function commitRunFiles(dir: string, files: Record<string, FileContent>, state: Omit<RunState, "format" | "version" | "files">, previous?: RunState): RunState {
  const pending = join(dir, PENDING);
  rmSync(pending, { recursive: true, force: true });
  const hashes: Record<string, string> = { ...(previous?.files ?? {}) };
  for (const [name, data] of Object.entries(files)) {
    writeFileAtomic(join(pending, name), data, { durable: true });
    hashes[name] = sha256(data);
  }
  const record: RunState = { format: "ranksort-run", version: 1, ...state, files: hashes };
  writeFileAtomic(join(pending, JOURNAL), JSON.stringify({ ...record, staged: Object.keys(files) }, null, 2), { durable: true });
  applyJournal(dir);
  return record;
}

function applyJournal(dir: string): RunState {
  const pending = join(dir, PENDING);
  const journal = JSON.parse(readFileSync(join(pending, JOURNAL), "utf8")) as RunState & { staged: string[] };
  for (const name of journal.staged) {
    // A staged file already moved by an earlier, interrupted attempt is simply absent.
    if (existsSync(join(pending, name))) renameSync(join(pending, name), join(dir, name));
  }
  syncDirectory(dir);
  const { staged: _, ...state } = journal;
  writeFileAtomic(join(dir, STATE), JSON.stringify(state, null, 2), { durable: true });
  rmSync(pending, { recursive: true, force: true });
  syncDirectory(dir);
  return state;
}

/**
 * Bring the folder to its last commit (redo a journaled commit, drop an unjournaled one, remove
 * temporary files of interrupted writes) and return its state, or undefined for a folder with none.
 * Call with the lock held.
 */
export function recoverRunFolder(dir: string): RunState | undefined {
  const pending = join(dir, PENDING);
  let journaled = false;
  try {
    journaled = existsSync(join(pending, JOURNAL)) && JSON.parse(readFileSync(join(pending, JOURNAL), "utf8")).format === "ranksort-run";
  } catch {
    journaled = false; // cannot happen with atomic writes; treat as uncommitted
  }
  if (journaled) applyJournal(dir);
  else rmSync(pending, { recursive: true, force: true });
  removeStaleTempFiles(dir);
  return readRunState(dir);
}

export function readRunState(dir: string): RunState | undefined {
  const path = join(dir, STATE);
  if (!existsSync(path)) return undefined;
  let state: RunState;
  try {
    state = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new RunFolderError(`${path} is damaged (${(e as Error).message}); the run cannot be resumed`);
  }
  if (state?.format !== "ranksort-run" || !Number.isSafeInteger(state.epoch) || state.epoch < 0 || typeof state.files !== "object") throw new RunFolderError(`${path} is not a ranksort run state`);
  return state;
}

/** Read a committed file, checking it against the state's checksum. */
export function readCommitted(dir: string, state: RunState, name: string): Buffer {
  const path = join(dir, name);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new RunFolderError(`cannot read ${path}: ${(e as Error).message}`);
  }
  if (state.files[name] && sha256(bytes) !== state.files[name]) throw new RunFolderError(`${path} was changed or damaged after epoch ${state.epoch} was committed (its SHA-256 differs from ${join(dir, STATE)})`);
  return bytes;
}

/** Remove a previous run's files (for --overwrite). */
export function clearRunFolder(dir: string): void {
  rmSync(join(dir, PENDING), { recursive: true, force: true });
  for (const f of RUN_FILES) rmSync(join(dir, f), { force: true });
}

/** Whether `dir` holds (a part of) a run: a state, a checkpoint or metrics. */
export function holdsRun(dir: string): boolean {
  return ["state.json", "checkpoint.bin", "metrics.json"].some((f) => existsSync(join(dir, f)));
}

/** The first of PARENT/NAME, PARENT/NAME2, PARENT/NAME3, … that does not exist yet (created). */
export function freshRunFolder(parent = "runs", name = "train"): string {
  try {
    mkdirSync(parent, { recursive: true });
  } catch (e) {
    throw fileWriteError(parent, e);
  }
  const taken = new Set(readdirSync(parent));
  for (let i = 1; ; i++) {
    const candidate = i === 1 ? name : `${name}${i}`;
    if (taken.has(candidate)) continue;
    try {
      mkdirSync(join(parent, candidate));
      return join(parent, candidate);
    } catch (e) {
      if ((e as { code?: string }).code !== "EEXIST") throw fileWriteError(join(parent, candidate), e);
    }
  }
}
