// Drawing the run: the loss curve (SVG), the metrics table, pictures on canvases, time spans.

import type { EpochRow, Picture } from "./protocol.ts";

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text = ""): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text) e.textContent = text;
  return e;
}

export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "–";
  const s = Math.max(0, Math.round(seconds));
  return s >= 3600 ? `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min` : s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}

/** Per-step losses as a line, with the per-epoch means as dots when known. */
export function drawLossCurve(svg: SVGSVGElement, losses: number[], stepsPerEpoch: number): void {
  const W = 600;
  const H = 200;
  const pad = 28;
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.replaceChildren();
  const ns = "http://www.w3.org/2000/svg";
  const add = (tag: string, attrs: Record<string, string | number>, text = "") => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text) e.textContent = text;
    svg.appendChild(e);
    return e;
  };
  add("line", { x1: pad, y1: H - pad, x2: W - 8, y2: H - pad, class: "axis" });
  add("line", { x1: pad, y1: 8, x2: pad, y2: H - pad, class: "axis" });
  if (!losses.length) {
    add("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "hint" }, "the loss of every step appears here");
    return;
  }
  const hi = Math.max(...losses) * 1.05;
  const lo = Math.min(0, Math.min(...losses));
  const x = (i: number) => pad + ((W - 8 - pad) * i) / Math.max(1, losses.length - 1);
  const y = (v: number) => H - pad - ((H - pad - 8) * (v - lo)) / (hi - lo || 1);
  for (let e = stepsPerEpoch; e < losses.length; e += stepsPerEpoch) add("line", { x1: x(e), y1: 8, x2: x(e), y2: H - pad, class: "epoch-mark" });
  add("polyline", { points: losses.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" "), class: "loss-line" });
  // The latest step as a dot: visible from the first step on.
  add("circle", { cx: x(losses.length - 1).toFixed(1), cy: y(losses[losses.length - 1]!).toFixed(1), r: 3, class: "loss-dot" });
  add("text", { x: pad - 4, y: 14, "text-anchor": "end", class: "tick" }, hi.toFixed(2));
  add("text", { x: pad - 4, y: H - pad, "text-anchor": "end", class: "tick" }, lo.toFixed(1));
  add("text", { x: W - 8, y: H - 8, "text-anchor": "end", class: "tick" }, `step ${losses.length}`);
}

export function renderMetrics(table: HTMLTableElement, rows: EpochRow[]): void {
  const head = el("tr");
  for (const h of ["epoch", "loss", "AP", "AP50", "AP75", "oLRP ↓", "train s"]) head.appendChild(el("th", {}, h));
  const body = rows.map((r) => {
    const tr = el("tr");
    const cells = [String(r.epoch), r.loss === null ? "–" : r.loss.toFixed(3), r.AP.toFixed(3), r.AP50.toFixed(3), r.AP75.toFixed(3), r.oLRP.toFixed(3), r.epoch ? r.trainSeconds.toFixed(1) : "–"];
    for (const c of cells) tr.appendChild(el("td", {}, c));
    return tr;
  });
  table.replaceChildren(el("thead"), el("tbody"));
  table.tHead!.appendChild(head);
  table.tBodies[0]!.append(...body);
}

export function pictureFigure(p: Picture): HTMLElement {
  const canvas = el("canvas", { width: String(p.width), height: String(p.height) });
  const ctx = canvas.getContext("2d")!;
  const img = ctx.createImageData(p.width, p.height);
  for (let i = 0; i < p.width * p.height; i++) {
    img.data[4 * i] = p.rgb[3 * i]!;
    img.data[4 * i + 1] = p.rgb[3 * i + 1]!;
    img.data[4 * i + 2] = p.rgb[3 * i + 2]!;
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  const fig = el("figure");
  fig.append(canvas, el("figcaption", {}, p.caption));
  return fig;
}

/** Offer bytes as a file download. */
export function download(bytes: Uint8Array | string, name: string, type: string): void {
  const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type }));
  const a = el("a", { href: url, download: name });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
