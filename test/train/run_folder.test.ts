// The run folder's commit protocol at each crash point, built by hand: staged files without a
// journal are dropped, a journal is rolled forward however far its moves got; the lock refuses a
// live owner and takes over a dead one's; fresh folders are numbered.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { commitRunFiles, freshRunFolder, lockRunFolder, readCommitted, recoverRunFolder, RunFolderError, sha256 } from "../../src/train/run_folder.ts";

const root = mkdtempSync(join(tmpdir(), "ranksort-run-folder-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
/** A folder with epoch 1 committed (a.txt = "a1", b.txt = "b1"). */
function committedFolder() {
  const dir = join(root, `run${n++}`);
  const state = commitRunFiles(dir, { "a.txt": "a1", "b.txt": "b1" }, { epoch: 1, epochs: 3 });
  return { dir, state };
}
const read = (dir: string, f: string) => readFileSync(join(dir, f), "utf8");

describe("commit and recovery", () => {
  test("a commit moves the files in and records their checksums", () => {
    const { dir, state } = committedFolder();
    expect(readdirSync(dir).sort()).toEqual(["a.txt", "b.txt", "state.json"]);
    expect(state.files).toEqual({ "a.txt": sha256("a1"), "b.txt": sha256("b1") });
    expect(recoverRunFolder(dir)).toEqual(state);
  });

  test("crash while staging (no journal): the next start keeps the old epoch", () => {
    const { dir, state } = committedFolder();
    mkdirSync(join(dir, ".pending"));
    writeFileSync(join(dir, ".pending", "a.txt"), "a2");
    writeFileSync(join(dir, ".a.txt.999.123.tmp"), "torn");
    expect(recoverRunFolder(dir)).toEqual(state);
    expect([read(dir, "a.txt"), existsSync(join(dir, ".pending")), existsSync(join(dir, ".a.txt.999.123.tmp"))]).toEqual(["a1", false, false]);
  });

  for (const moved of [0, 1, 2]) {
    test(`crash after the journal with ${moved} of 2 files moved: rolled forward to the new epoch`, () => {
      const { dir, state } = committedFolder();
      // Stage epoch 2 as commitRunFiles does, then stop part-way through the moves.
      mkdirSync(join(dir, ".pending"));
      writeFileSync(join(dir, ".pending", "a.txt"), "a2");
      writeFileSync(join(dir, ".pending", "b.txt"), "b2");
      const next = { ...state, epoch: 2, files: { "a.txt": sha256("a2"), "b.txt": sha256("b2") } };
      writeFileSync(join(dir, ".pending", "COMMIT"), JSON.stringify({ ...next, staged: ["a.txt", "b.txt"] }));
      for (const f of ["a.txt", "b.txt"].slice(0, moved)) renameSync(join(dir, ".pending", f), join(dir, f));
      expect(recoverRunFolder(dir)).toEqual(next);
      expect([read(dir, "a.txt"), read(dir, "b.txt"), existsSync(join(dir, ".pending"))]).toEqual(["a2", "b2", false]);
      expect(recoverRunFolder(dir)).toEqual(next); // idempotent
    });
  }

  test("a committed file changed afterwards is named", () => {
    const { dir, state } = committedFolder();
    writeFileSync(join(dir, "b.txt"), "edited");
    expect(readCommitted(dir, state, "a.txt").toString()).toBe("a1");
    expect(() => readCommitted(dir, state, "b.txt")).toThrow(/b\.txt was changed or damaged after epoch 1 was committed/);
    writeFileSync(join(dir, "state.json"), "{");
    expect(() => recoverRunFolder(dir)).toThrow(RunFolderError);
  });
});

describe("lock", () => {
  test("a live owner is refused, a dead or unreadable one is taken over, release removes it", () => {
    const dir = join(root, "locked");
    mkdirSync(dir);
    const release = lockRunFolder(dir);
    expect(JSON.parse(read(dir, "lock")).pid).toBe(process.pid);
    expect(() => lockRunFolder(dir)).toThrow(new RegExp(`in use by another ranksort train \\(pid ${process.pid}, since `));
    release();
    expect(existsSync(join(dir, "lock"))).toBe(false);
    for (const stale of [JSON.stringify({ pid: 2 ** 22 + 777, host: hostname(), started: "then" }), "", "garbage"]) {
      writeFileSync(join(dir, "lock"), stale);
      const again = lockRunFolder(dir);
      expect(JSON.parse(read(dir, "lock")).pid).toBe(process.pid);
      again();
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  test("fresh folders: the first free of NAME, NAME2, …", () => {
    const parent = join(root, "runs");
    expect(freshRunFolder(parent, "train")).toBe(join(parent, "train"));
    expect(freshRunFolder(parent, "train")).toBe(join(parent, "train2"));
    mkdirSync(join(parent, "train4"));
    expect(freshRunFolder(parent, "train")).toBe(join(parent, "train3"));
    expect(freshRunFolder(parent, "train")).toBe(join(parent, "train5"));
  });
});
