// ATSS and max-IoU assignment and the class targets they produce, on hand-made layouts.
import { describe, expect, test } from "bun:test";
import { assignATSS, assignMaxIoU, classTargets, IGNORED, NEGATIVE } from "../../src/detect/assigners.ts";

const B = (...v: number[]) => Float32Array.from(v);

describe("assigners", () => {
  test("max-IoU: positive ≥ 0.5, negative < 0.4, ignored between, best anchor of each gt claimed", () => {
    const anchors = B(0, 0, 10, 10, 0, 0, 10, 14, 0, 0, 20, 20, 50, 50, 60, 60, 100, 100, 104, 104);
    const gts = B(0, 0, 10, 12, 98, 98, 110, 110);
    const a = assignMaxIoU(anchors, gts);
    // IoUs with gt0: 100/120 = .833, 120/140 = .857, 120/400 = .3; anchor 3 overlaps nothing;
    // anchor 4 overlaps gt1 with 16/144 = .11 < 0.4, but it is gt1's best anchor: claimed.
    expect(Array.from(a.gt)).toEqual([0, 0, NEGATIVE, NEGATIVE, 1]);
    expect(a.iou[1]).toBeCloseTo(120 / 140, 5);
    const b = assignMaxIoU(B(0, 0, 10, 10), B(0, 0, 10, 22), { posIoU: 0.5, negIoU: 0.4, minPosIoU: 0.5 });
    // IoU 100/220 = 0.45: between the thresholds, and below minPosIoU so not claimed.
    expect(Array.from(b.gt)).toEqual([IGNORED]);
  });

  test("ATSS: per-level nearest candidates, mean + std threshold, centre inside", () => {
    // Level 0: anchors of size 8 at x centres 4, 12, 20, 28 (y 4); level 1: size 16 at 8, 24.
    const anchors = B(0, 0, 8, 8, 8, 0, 16, 8, 16, 0, 24, 8, 24, 0, 32, 8, 0, -4, 16, 12, 16, -4, 32, 12);
    const gts = B(6, 0, 18, 8);
    const a = assignATSS(anchors, [4, 2], gts, 2);
    // Candidates: level 0 nearest to centre 12 → anchors 1 (IoU 1·8·8/(96)=.667) and 0 or 2 (IoU 2/14=.143
    // each; ties by index → 0); level 1 → anchors 4 (IoU 80/(96+256−80)=.294) and 5 (IoU 16/... small).
    // Threshold mean + std keeps only anchor 1, whose centre (12, 4) is inside the gt.
    expect(Array.from(a.gt)).toEqual([NEGATIVE, 0, NEGATIVE, NEGATIVE, NEGATIVE, NEGATIVE]);
    expect(a.iou[1]).toBeCloseTo(64 / 96, 5);
  });

  test("class targets: 1 at the gt's class, −1 across ignored anchors", () => {
    const t = classTargets({ gt: Int32Array.from([1, NEGATIVE, IGNORED, 0]), iou: new Float32Array(4) }, Int32Array.from([2, 0]), 3);
    expect(Array.from(t)).toEqual([1, 0, 0, 0, 0, 0, -1, -1, -1, 0, 0, 1]);
    expect(() => classTargets({ gt: Int32Array.from([0]), iou: new Float32Array(1) }, Int32Array.from([5]), 3)).toThrow(/class 5, outside \[0, 3\)/);
  });
});

describe("ATSS across JavaScript engines", () => {
  // Grid anchors tie in distance to a box centre; a last-bit difference (Math.hypot differs between
  // JavaScriptCore and V8) once picked different candidates in Bun and Deno, and so different targets.
  test("Bun and Deno assign identically (the synthetic set's boxes, where grid distances tie)", () => {
    const { spawnSync } = require("node:child_process") as typeof import("node:child_process");
    const { join, resolve } = require("node:path") as typeof import("node:path");
    const root = resolve(import.meta.dir, "..", "..");
    const script = join(root, "test", "support", "assignment_digest.ts");
    const run = (cmd: string, args: string[]) => {
      const r = spawnSync(cmd, args, { encoding: "utf8", cwd: root });
      expect(r.status).toBe(0);
      return r.stdout.trim().split("\n").at(-1);
    };
    const bun = run(join(root, "node_modules", ".bin", "bun"), [script]);
    const deno = run(join(root, "node_modules", ".bin", "deno"), ["run", "-A", script]);
    expect(bun).toMatch(/^[0-9a-f]{64}$/);
    expect(deno).toBe(bun);
  }, 120_000);
});
