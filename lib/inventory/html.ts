/**
 * The inventory as one self-contained HTML page: the summary (the text summary's lines and its counts), a
 * sky map, the completeness per band and the table of problems with their reasons. Inline CSS and inline
 * SVG only: no script, no network, no external file, so it opens offline in any browser.
 *
 * The sky map draws each stored skycell group as one SVG path through the four sky corners of its WCS
 * (`lib/sky/rings.ts`), coloured by its state (`records.ts`); with an expected list, the expected skycells
 * absent from the store are drawn too (state `absent`). Every path carries `data-skycell`, `data-state`
 * (and `data-layout` for stored groups) and a `<title>` the browser shows on hover. The map is a plain
 * RA/Dec plot (RA increasing to the left, RA scaled by the cosine of the middle declination) centred on
 * the median RA of the skycells, taken around the circle from the largest gap between them, so a set that
 * straddles RA 0/360 is drawn in one piece.
 *
 * Files: `inventory_{YYYYMMDD_HHMMSS}.html` beside the CSV reports, and `inventory_latest.html`, named
 * with the CSV reports' timestamp ({@link timestampOf}).
 *
 * Every string from the store (store path, names, problem messages) is HTML-escaped.
 *
 * @example
 * ```ts ignore
 * const paths = await writeHtmlReport(inv, "data/zarr_inventory");
 * console.log(paths.html);
 * ```
 * @module
 */

import * as path from "node:path";
import { formatMB } from "../cli/progress.ts";
import { skycellCorners } from "../sky/rings.ts";
import type { SkyPoint } from "../sky/wcs.ts";
import type { ArrayRecord, Inventory, SkycellRecord, SkycellState } from "./records.ts";
import { summaryLines, timestampOf } from "./report.ts";

/** What a sky-map path can show: a stored skycell's state, or an expected skycell the store lacks. */
export type MapState = SkycellState | "absent";

/** The map states in legend order. */
export const MAP_STATES: readonly MapState[] = ["complete", "incomplete", "corrupt", "unreadable", "absent"];

const COLOURS: Record<MapState, string> = {
  complete: "#2e9d4a",
  incomplete: "#e3a21a",
  corrupt: "#d0312d",
  unreadable: "#7a4fb5",
  absent: "#9aa3ad",
};

/** Most rows of a table on the page; the CSV reports hold every row. */
export const MAX_TABLE_ROWS = 2000;

/** `&`, `<`, `>`, `"` and `'` as character references: safe in text and in quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : c === '"' ? "&quot;" : "&#39;",
  );
}

/** An angle in (-180, 180]. */
function wrap180(deg: number): number {
  const d = ((deg % 360) + 360) % 360;
  return d > 180 ? d - 360 : d;
}

/**
 * The middle RA of a set of RAs on the circle: the median after cutting the circle at the largest gap
 * between neighbouring values, so `[359, 1, 358, 2]` gives 0, not 180. Degrees in [0, 360); 0 when empty.
 */
export function medianRa(ras: readonly number[]): number {
  if (ras.length === 0) return 0;
  const sorted = ras.map((r) => ((r % 360) + 360) % 360).sort((a, b) => a - b);
  let cut = 0; // index of the first value after the largest gap
  let gap = sorted[0] + 360 - sorted[sorted.length - 1];
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i] - sorted[i - 1] > gap) {
      gap = sorted[i] - sorted[i - 1];
      cut = i;
    }
  }
  const unwrapped = [...sorted.slice(cut), ...sorted.slice(0, cut).map((r) => r + 360)];
  const n = unwrapped.length;
  const mid = n % 2 === 1 ? unwrapped[(n - 1) / 2] : (unwrapped[n / 2 - 1] + unwrapped[n / 2]) / 2;
  return ((mid % 360) + 360) % 360;
}

/** One outline on the sky map. */
export interface MapItem {
  /** Skycell name. */
  name: string;
  /** What it shows. */
  state: MapState;
  /** Layout of the stored group, or null for an absent expected skycell. */
  layout: string | null;
  /** Extra hover text (e.g. main or padding). */
  note?: string;
}

/** The sky map as inline SVG, with what was drawn. */
export interface SkyMap {
  /** The `<svg>` element. */
  svg: string;
  /** Outlines drawn. */
  drawn: number;
  /** Names without a RINGS.V3 WCS (not drawn). */
  unplaced: string[];
  /** RA at the centre of the map, degrees. */
  raCentre: number;
  /** RA range drawn (the skycells' extent, before margins), degrees. */
  raSpan: number;
  /** Dec range drawn, degrees. */
  decRange: [number, number];
}

const MAP_WIDTH = 960;
const MAP_MAX_HEIGHT = 640;
const MAP_MIN_HEIGHT = 240;
const MARGIN = { left: 56, right: 16, top: 16, bottom: 40 };

function niceStep(span: number): number {
  const steps = [0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 2.5, 5, 10, 15, 20, 30, 45, 60, 90];
  return steps.find((s) => span / s <= 8) ?? 90;
}

function fmtDeg(v: number, step: number): string {
  const digits = step >= 1 ? 0 : step >= 0.1 ? 1 : 2;
  return `${v.toFixed(digits)}°`;
}

/**
 * Draws outlines of skycells on an RA/Dec plot: one `<path>` each, `class="sc s-{state}"`, with the
 * `data-*` attributes and a `<title>`. Names that are not RINGS.V3 skycells are listed in `unplaced`.
 */
export function skyMap(items: readonly MapItem[]): SkyMap {
  const placed: Array<{ item: MapItem; corners: SkyPoint[] }> = [];
  const unplaced: string[] = [];
  for (const item of items) {
    try {
      placed.push({ item, corners: skycellCorners(item.name) });
    } catch {
      unplaced.push(item.name);
    }
  }
  const centres = placed.map((p) => medianRa(p.corners.map((c) => c.ra)));
  const ra0 = medianRa(centres);
  // Offsets from ra0, each outline kept in one piece around its own centre.
  const shapes = placed.map((p, i) => {
    const c = wrap180(centres[i] - ra0);
    return p.corners.map((k) => ({ dra: c + wrap180(k.ra - centres[i]), dec: k.dec }));
  });
  let minD = Infinity, maxD = -Infinity, minR = Infinity, maxR = -Infinity;
  for (const s of shapes) {
    for (const k of s) {
      minD = Math.min(minD, k.dec);
      maxD = Math.max(maxD, k.dec);
      minR = Math.min(minR, k.dra);
      maxR = Math.max(maxR, k.dra);
    }
  }
  if (shapes.length === 0) [minD, maxD, minR, maxR] = [-1, 1, -1, 1];
  const raSpan = maxR - minR;
  // Some room around the outlines; at least a degree either way so one skycell is not a full-page tile.
  const padR = Math.max(0.5, raSpan * 0.04), padD = Math.max(0.5, (maxD - minD) * 0.04);
  const r0 = minR - padR, r1 = maxR + padR, d0 = Math.max(-90, minD - padD), d1 = Math.min(90, maxD + padD);
  const cosDec = Math.max(0.05, Math.cos(((d0 + d1) / 2) * (Math.PI / 180)));
  const spanX = (r1 - r0) * cosDec, spanY = d1 - d0;
  const plotW = MAP_WIDTH - MARGIN.left - MARGIN.right;
  const scale = Math.min(plotW / spanX, (MAP_MAX_HEIGHT - MARGIN.top - MARGIN.bottom) / spanY);
  const height = Math.max(MAP_MIN_HEIGHT, spanY * scale + MARGIN.top + MARGIN.bottom);
  const offX = MARGIN.left + (plotW - spanX * scale) / 2;
  const offY = MARGIN.top + (height - MARGIN.top - MARGIN.bottom - spanY * scale) / 2;
  // RA grows to the left.
  const x = (dra: number) => offX + (r1 - dra) * cosDec * scale;
  const y = (dec: number) => offY + (d1 - dec) * scale;
  const n = (v: number) => v.toFixed(1);

  const out: string[] = [];
  out.push(
    `<svg class="skymap" role="img" viewBox="0 0 ${MAP_WIDTH} ${n(height)}" width="${MAP_WIDTH}" ` +
      `height="${n(height)}" data-ra-centre="${ra0.toFixed(3)}" data-ra-span="${raSpan.toFixed(3)}">`,
  );
  out.push(`<title>Sky map: ${placed.length} skycells, RA centred on ${ra0.toFixed(2)}°</title>`);
  // Grid and labels.
  const gx0 = x(r1), gx1 = x(r0), gy0 = y(d1), gy1 = y(d0);
  out.push(
    `<rect class="frame" x="${n(gx0)}" y="${n(gy0)}" width="${n(gx1 - gx0)}" height="${n(gy1 - gy0)}"/>`,
  );
  const grid: string[] = [];
  const labels: string[] = [];
  const stepD = niceStep(d1 - d0);
  for (let d = Math.ceil(d0 / stepD) * stepD; d <= d1 + 1e-9; d += stepD) {
    grid.push(`M${n(gx0)} ${n(y(d))}H${n(gx1)}`);
    labels.push(
      `<text x="${n(gx0 - 4)}" y="${n(y(d) + 4)}" text-anchor="end">${fmtDeg(d, stepD)}</text>`,
    );
  }
  const stepR = niceStep(r1 - r0);
  for (let r = Math.ceil((ra0 + r0) / stepR) * stepR; r <= ra0 + r1 + 1e-9; r += stepR) {
    const xr = x(r - ra0);
    grid.push(`M${n(xr)} ${n(gy0)}V${n(gy1)}`);
    labels.push(
      `<text x="${n(xr)}" y="${n(gy1 + 16)}" text-anchor="middle">${
        fmtDeg(((r % 360) + 360) % 360, stepR)
      }</text>`,
    );
  }
  out.push(`<path class="grid" d="${grid.join("")}"/>`);
  out.push(`<g class="labels">${labels.join("")}</g>`);
  out.push(
    `<text class="axis" x="${n((gx0 + gx1) / 2)}" y="${n(height - 4)}" text-anchor="middle">RA</text>`,
    `<text class="axis" x="12" y="${n((gy0 + gy1) / 2)}" text-anchor="middle" ` +
      `transform="rotate(-90 12 ${n((gy0 + gy1) / 2)})">Dec</text>`,
  );
  // Absent expected skycells first, so stored ones are drawn over them.
  const order = placed.map((_, i) => i).sort((a, b) =>
    Number(placed[b].item.state === "absent") - Number(placed[a].item.state === "absent")
  );
  out.push(`<g class="skycells">`);
  for (const i of order) {
    const { item } = placed[i];
    const d = shapes[i].map((k, j) => `${j === 0 ? "M" : "L"}${n(x(k.dra))} ${n(y(k.dec))}`).join("") + "Z";
    const name = escapeHtml(item.name);
    const hover = `${name}: ${item.state}${item.note ? ` (${escapeHtml(item.note)})` : ""}`;
    const layout = item.layout ? ` data-layout="${escapeHtml(item.layout)}"` : "";
    out.push(
      `<path class="sc s-${item.state}" data-skycell="${name}" data-state="${item.state}"${layout} ` +
        `d="${d}"><title>${hover}</title></path>`,
    );
  }
  out.push(`</g></svg>`);
  return {
    svg: out.join("\n"),
    drawn: placed.length,
    unplaced,
    raCentre: ra0,
    raSpan,
    decRange: [minD, maxD],
  };
}

/** One row of the problem table. */
export interface ProblemRow {
  /** Skycell name or store path. */
  what: string;
  /** A state (`corrupt`, `absent`, ...) or a kind of node (`temp`, `unexpected`, `store`). */
  state: string;
  /** Layout, or empty. */
  layout: string;
  /** Why, in one line. */
  reason: string;
}

function arraysBySkycell(inv: Inventory): Map<string, ArrayRecord[]> {
  const index = new Map<string, ArrayRecord[]>();
  for (const a of inv.arrays) {
    const key = `${a.layout}:${a.skycell}`;
    const list = index.get(key);
    if (list) list.push(a);
    else index.set(key, [a]);
  }
  return index;
}

function reasonOf(s: SkycellRecord, arrays: readonly ArrayRecord[]): string {
  const parts: string[] = [...s.groupProblems];
  for (const a of arrays) {
    if (a.role !== "expected" || (a.status !== "corrupt" && a.status !== "unreadable")) continue;
    parts.push(`${a.name} ${a.status}: ${a.problems.map((p) => p.message).join("; ") || "(no detail)"}`);
  }
  if (s.missing.length === s.expected.length && s.expected.length > 0) parts.push("no expected array stored");
  else if (s.missing.length > 0) parts.push(`missing ${s.missing.join(", ")}`);
  return parts.join(" | ");
}

/**
 * The problems of an inventory, one row each: skycells not complete with their reasons, expected skycells
 * not complete (absent ones included), store problems, temp and unexpected nodes.
 */
export function problemRows(inv: Inventory): ProblemRow[] {
  const index = arraysBySkycell(inv);
  const rows: ProblemRow[] = [];
  for (const s of inv.skycells) {
    if (s.state === "complete") continue;
    rows.push({
      what: s.name,
      state: s.state,
      layout: s.layout,
      reason: reasonOf(s, index.get(`${s.layout}:${s.name}`) ?? []),
    });
  }
  for (const e of inv.expected?.skycells ?? []) {
    if (e.state !== "absent") continue;
    rows.push({
      what: e.name,
      state: "absent",
      layout: "",
      reason: `expected (${e.role}), no group in the store`,
    });
  }
  for (const p of inv.summary.storeProblems) {
    rows.push({ what: "(store)", state: "store", layout: "", reason: p });
  }
  for (const t of inv.temps) {
    rows.push({
      what: t.path,
      state: "temp",
      layout: t.layout,
      reason: `temp node: ${t.files} files, ${formatMB(t.bytes)}, last change ${
        new Date(t.lastChangeMs).toISOString()
      }`,
    });
  }
  for (const u of inv.unexpected) {
    rows.push({
      what: u.path,
      state: "unexpected",
      layout: "",
      reason: `unexpected ${u.nodeType}: reported, never removed`,
    });
  }
  return rows;
}

const CSS = `
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1d2329;background:#fff}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}
.meta{color:#5b6670;margin:0 0 12px;word-break:break-all}
.cards{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0}
.card{border:1px solid #d7dde2;border-left:6px solid #5b6670;border-radius:4px;padding:6px 12px;min-width:96px}
.card b{display:block;font-size:22px}
.card.s-complete{border-left-color:${COLOURS.complete}}.card.s-incomplete{border-left-color:${COLOURS.incomplete}}
.card.s-corrupt{border-left-color:${COLOURS.corrupt}}.card.s-unreadable{border-left-color:${COLOURS.unreadable}}
.card.s-absent{border-left-color:${COLOURS.absent}}
pre{background:#f5f7f8;border:1px solid #e1e5e8;padding:8px 12px;overflow:auto;font-size:12px}
table{border-collapse:collapse;font-size:13px}th,td{border-bottom:1px solid #e1e5e8;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f5f7f8}td.reason{word-break:break-word;max-width:720px}
.bar{background:#e1e5e8;width:200px;height:10px;border-radius:5px;overflow:hidden}
.bar span{display:block;height:100%;background:${COLOURS.complete}}
.skymap{max-width:100%;height:auto;background:#fbfcfd;border:1px solid #e1e5e8}
.skymap .frame{fill:none;stroke:#c3cbd2}.skymap .grid{fill:none;stroke:#e4e8eb;stroke-width:1}
.skymap text{font-size:11px;fill:#5b6670}.skymap .axis{font-size:12px;fill:#1d2329}
.sc{stroke:#ffffff;stroke-width:.5;fill-opacity:.85}.sc:hover{stroke:#000;stroke-width:2;fill-opacity:1}
${MAP_STATES.map((s) => `.sc.s-${s}{fill:${COLOURS[s]}}.legend .s-${s}{background:${COLOURS[s]}}`).join("")}
.sc.s-absent{fill-opacity:.35;stroke:#5b6670;stroke-dasharray:3 2}
.legend{display:flex;flex-wrap:wrap;gap:14px;margin:6px 0}.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px}
.state{font-weight:600}
`.trim();

function card(key: string, count: number, label: string, state = key): string {
  return `<div class="card s-${state}"><b data-count="${key}">${count}</b>${label}</div>`;
}

/** Options of {@link renderInventoryHtml}. */
export interface HtmlOptions {
  /** The page title (default `Zarr store inventory`). */
  title?: string;
}

/** The page of an inventory: one HTML document, inline CSS and SVG, no script. */
export function renderInventoryHtml(inv: Inventory, opts: HtmlOptions = {}): string {
  const title = opts.title ?? "Zarr store inventory";
  const s = inv.summary;
  const k = s.skycells;
  const items: MapItem[] = inv.skycells.map((r) => ({ name: r.name, state: r.state, layout: r.layout }));
  for (const e of inv.expected?.skycells ?? []) {
    if (e.state === "absent") items.push({ name: e.name, state: "absent", layout: null, note: e.role });
  }
  const map = skyMap(items);
  const counts: Record<MapState, number> = {
    complete: k.complete,
    incomplete: k.incomplete,
    corrupt: k.corrupt,
    unreadable: k.unreadable,
    absent: inv.expected?.absent ?? 0,
  };
  const html: string[] = [];
  html.push(
    "<!DOCTYPE html>",
    `<html lang="en"><head><meta charset="utf-8">`,
    `<meta name="viewport" content="width=device-width, initial-scale=1">`,
    `<title>${escapeHtml(title)}: ${escapeHtml(s.store)}</title>`,
    `<style>${CSS}</style></head><body>`,
    `<h1>${escapeHtml(title)}</h1>`,
    `<p class="meta">Store <code>${escapeHtml(s.store)}</code>; scan started ${
      escapeHtml(inv.startedAt)
    }; bands ${escapeHtml(s.bands.join(", "))}; ${
      s.deep ? "deep (every chunk decoded)" : "metadata only"
    }</p>`,
  );
  // Summary: the counts, then the text summary's lines.
  html.push(`<h2>Summary</h2><div class="cards" id="summary">`);
  html.push(card("total", k.total, "skycells"));
  for (const st of ["complete", "incomplete", "corrupt", "unreadable"] as const) {
    html.push(card(st, k[st], st));
  }
  html.push(card("arrays-healthy", s.arrays.healthy, `of ${s.arrays.expected} arrays healthy`));
  html.push(card("temps", s.temps.count, "temp nodes"));
  html.push(card("unexpected", s.unexpected, "unexpected nodes"));
  html.push(`</div>`);
  const e = inv.expected;
  if (e) {
    const ccd = e.sector !== null ? `sector ${e.sector} camera ${e.camera} CCD ${e.ccd}, ` : "";
    html.push(
      `<h2>Expected skycells</h2><p class="meta">${escapeHtml(`${ccd}${e.source} list ${e.csvPath}`)}</p>`,
      `<div class="cards" id="expected">`,
      card("expected-total", e.total, "expected"),
      ...(["complete", "incomplete", "corrupt", "unreadable", "absent"] as const).map((st) =>
        card(`expected-${st}`, e[st], st, st)
      ),
      `</div>`,
    );
    for (const w of e.warnings) html.push(`<p class="meta">warning: ${escapeHtml(w)}</p>`);
  }
  // Sky map.
  html.push(`<h2>Sky map</h2><div class="legend">`);
  for (const st of MAP_STATES) {
    if (st === "absent" && !e) continue;
    html.push(`<span><i class="s-${st}"></i>${st} (${counts[st]})</span>`);
  }
  html.push(`</div>`, map.svg);
  // The text summary's lines (without its rules and title), as zarr_inventory prints them.
  const lines = summaryLines(s).filter((l) => !/^=+$/.test(l)).slice(1);
  html.push(`<h2>Summary in full</h2><pre id="summary-text">${escapeHtml(lines.join("\n"))}</pre>`);
  if (map.unplaced.length > 0) {
    html.push(
      `<p class="meta">Not on the map (no RINGS.V3 WCS): ${escapeHtml(map.unplaced.slice(0, 50).join(", "))}${
        map.unplaced.length > 50 ? `, ... (${map.unplaced.length})` : ""
      }</p>`,
    );
  }
  // Completeness per band.
  html.push(
    `<h2>Completeness per band</h2><table id="bands"><tr><th>band</th><th>complete</th>` +
      `<th>of</th><th>%</th><th></th></tr>`,
  );
  for (const [band, c] of Object.entries(s.bandCompleteness)) {
    const p = c.total > 0 ? (c.complete / c.total) * 100 : 0;
    html.push(
      `<tr data-band="${escapeHtml(band)}"><td>${escapeHtml(band)}</td><td>${c.complete}</td>` +
        `<td>${c.total}</td><td>${c.total > 0 ? p.toFixed(1) : "n/a"}</td>` +
        `<td><div class="bar"><span style="width:${p.toFixed(1)}%"></span></div></td></tr>`,
    );
  }
  html.push(`</table>`);
  // Problems.
  const problems = problemRows(inv);
  html.push(`<h2>Problems (${problems.length})</h2>`);
  if (problems.length === 0) html.push(`<p>None: every skycell is complete.</p>`);
  else {
    html.push(
      `<table id="problems"><tr><th>skycell or node</th><th>state</th><th>layout</th><th>reason</th></tr>`,
    );
    for (const r of problems.slice(0, MAX_TABLE_ROWS)) {
      html.push(
        `<tr data-state="${escapeHtml(r.state)}"><td>${escapeHtml(r.what)}</td>` +
          `<td class="state">${escapeHtml(r.state)}</td><td>${escapeHtml(r.layout)}</td>` +
          `<td class="reason">${escapeHtml(r.reason)}</td></tr>`,
      );
    }
    html.push(`</table>`);
    if (problems.length > MAX_TABLE_ROWS) {
      html.push(`<p class="meta">... and ${problems.length - MAX_TABLE_ROWS} more: see the CSV reports.</p>`);
    }
  }
  html.push(`</body></html>`, "");
  return html.join("\n");
}

/** Options of {@link writeHtmlReport}: as the CSV reports'. */
export interface HtmlReportOptions extends HtmlOptions {
  /** The timestamp in the file name (default now). */
  date?: Date;
  /** Inserted after the timestamp (e.g. `_after_cleanup`). */
  suffix?: string;
  /** Also write `inventory_latest.html` (default true). */
  latest?: boolean;
}

/** The HTML files written. */
export interface HtmlReportPaths {
  /** `inventory_{YYYYMMDD_HHMMSS}{suffix}.html`. */
  html: string;
  /** `inventory_latest.html`, unless `latest: false`. */
  latest?: string;
}

/** Writes the page of an inventory into `outputDir` (created if needed), named like the CSV reports. */
export async function writeHtmlReport(
  inv: Inventory,
  outputDir: string,
  opts: HtmlReportOptions = {},
): Promise<HtmlReportPaths> {
  await Deno.mkdir(outputDir, { recursive: true });
  const stamp = timestampOf(opts.date ?? new Date()) + (opts.suffix ?? "");
  const text = renderInventoryHtml(inv, opts);
  const out: HtmlReportPaths = { html: path.join(outputDir, `inventory_${stamp}.html`) };
  await Deno.writeTextFile(out.html, text);
  if (opts.latest ?? true) {
    out.latest = path.join(outputDir, "inventory_latest.html");
    await Deno.writeTextFile(out.latest, text);
  }
  return out;
}
