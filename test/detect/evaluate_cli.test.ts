// `ranksort eval --annotations --detections` on a COCO results file: the table, --json, the
// variants, and a one-line error with exit 2 for each kind of bad input.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../src/cli/main.ts";

/** The command line in-process (what bin/ranksort.mjs runs), with its output captured. */
async function run(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = (...a: unknown[]) => void out.push(a.join(" "));
  console.error = (...a: unknown[]) => void err.push(a.join(" "));
  try {
    const status = await main(["eval", ...args]);
    return { status, stdout: out.join("\n"), stderr: err.join("\n") };
  } finally {
    [console.log, console.error] = [log, error];
  }
}

describe("ranksort eval on a COCO results file", () => {
  const dir = mkdtempSync(join(tmpdir(), "ranksort-eval-cli-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const gt = {
    images: [{ id: 1, width: 200, height: 200, file_name: "1.png" }, { id: 2, width: 200, height: 200, file_name: "2.png" }],
    categories: [{ id: 5, name: "cat" }, { id: 7, name: "dog" }],
    annotations: [
      { id: 1, image_id: 1, category_id: 5, bbox: [0, 0, 40, 40], area: 1600, iscrowd: 0 },
      { id: 2, image_id: 1, category_id: 5, bbox: [100, 0, 100, 100], area: 10000, iscrowd: 1 },
      { id: 3, image_id: 2, category_id: 7, bbox: [10, 10, 50, 50], area: 2500, iscrowd: 0 },
      { id: 4, image_id: 2, category_id: 7, bbox: [100, 100, 40, 40], area: 1600, iscrowd: 0 },
    ],
  };
  const results = [
    { image_id: 1, category_id: 5, bbox: [110, 10, 40, 40], score: 0.9 },
    { image_id: 1, category_id: 5, bbox: [0, 0, 40, 40], score: 0.8 },
    { image_id: 2, category_id: 7, bbox: [10, 10, 50, 50], score: 0.7 },
    { image_id: 2, category_id: 7, bbox: [150, 150, 40, 40], score: 0.7 },
  ];
  const file = (name: string, content: unknown) => {
    const p = join(dir, name);
    writeFileSync(p, typeof content === "string" ? content : JSON.stringify(content));
    return p;
  };
  const ann = file("ann.json", gt);
  const res = file("res.json", results);

  test("--json: pycocotools/LRP-Error metrics as one object; the default is a table with — for undefined", async () => {
    const r = await run("--annotations", ann, "--detections", res, "--json");
    expect(r.status).toBe(0);
    const m = JSON.parse(r.stdout);
    // cat: the crowd absorbs the 0.9 detection → AP 1. dog: TP, then FP tied at 0.7; 1 of 2 found.
    expect(m.AP50).toBeCloseTo((1 + 51 / 101) / 2, 12);
    expect(m.APl).toBe(-1);
    expect(m.oLRP).toBeCloseTo((0 + 0.5) / 2, 15); // dog: after its TP, (0 + 0 + 1)/(1 + 1)
    expect(m.oLRPThresholds).toEqual({ "5": 0.8, "7": 0.7 });
    expect([m.images, m.detections]).toEqual([2, 4]);
    // Evaluated only where the score drops, dog's tied FP is always in: (0 + 1 + 1)/3.
    const variant = JSON.parse((await run("--annotations", ann, "--detections", res, "--json", "--olrp-ties", "score-threshold")).stdout);
    expect(variant.oLRP).toBeCloseTo((0 + 2 / 3) / 2, 15);
    const table = await run("--annotations", ann, "--detections", res);
    expect(table.status).toBe(0);
    expect(table.stdout).toMatch(/AP50\s+0\.752/);
    expect(table.stdout).toMatch(/AP large\s+—/);
    expect(table.stdout).toMatch(/dog \(7\)\s+0\.700/);
  });

  test("bad inputs: one line naming the file, entry and field; exit 2", async () => {
    const det = results[0]!;
    const cases: [string[], RegExp][] = [
      [["--annotations", join(dir, "none.json"), "--detections", res], /cannot read COCO annotations .*none\.json: no such file/],
      [["--annotations", ann, "--detections", join(dir, "none.json")], /cannot read COCO results .*none\.json: no such file/],
      [["--annotations", ann, "--detections", file("obj.json", { annotations: results })], /res|obj\.json: expected a JSON array of detections .* got an object/],
      [["--annotations", ann, "--detections", file("img.json", [det, { ...det, image_id: 9 }])], /detection 1 has image_id 9, which is not an image of/],
      [["--annotations", ann, "--detections", file("cat.json", [{ ...det, category_id: 6 }])], /detection 0 has category_id 6, which is not a category of .* \(known: 5, 7\)/],
      [["--annotations", ann, "--detections", file("box.json", [{ ...det, bbox: [1, 2, 3] }])], /detection 0 has a bad bbox \[1,2,3\]/],
      [["--annotations", ann, "--detections", file("neg.json", [{ ...det, bbox: [1, 2, -3, 4] }])], /detection 0 has a bad bbox/],
      [["--annotations", ann, "--detections", file("nan.json", '[{"image_id": 1, "category_id": 5, "bbox": [0, 0, 4, 4], "score": NaN}]')], /nan\.json is not valid JSON: .*NaN and Infinity are not JSON/],
      [["--annotations", ann, "--detections", file("null.json", [{ ...det, score: null }])], /detection 0 has score null \(expected a finite number\)/],
      [["--annotations", file("badgt.json", { ...gt, annotations: [{ ...gt.annotations[0], image_id: 3 }] }), "--detections", res], /annotations\[0\] refers to unknown image_id 3/],
      [["--annotations", ann], /--annotations and --detections go together/],
    ];
    for (const [args, message] of cases) {
      const r = await run(...args);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split("\n")[0]).toMatch(message);
      if (!/go together/.test(message.source)) expect(r.stderr.trim().split("\n")).toHaveLength(1);
    }
  });
});
