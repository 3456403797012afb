/**
 * The benchmark report: the results files (bench/results/<id>.json, one per workload, with the
 * machine it ran on), one SVG bar chart per workload drawn here as plain text, the full Markdown
 * report (bench/results/README.md) and the Benchmarks section of the package README (between its
 * markers). Everything is rendered from the results files, so rerunning one workload updates its
 * part and keeps the others.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { formatValue, machineLine, type Chart, type ChartPanel, type Machine, type WorkloadResult } from './harness.js';

/** A results file: the workload's result, where and when it ran. */
export interface SavedResult extends WorkloadResult {
  machine: Machine;
  /** Smoke-test sizes (--quick): the figures mean nothing. */
  quick: boolean;
  /** Wall time of the workload. */
  seconds: number;
}

export const README_BEGIN = '<!-- benchmarks:begin (written by `npm run bench -- --report`; edit outside these markers) -->';
export const README_END = '<!-- benchmarks:end -->';

// ------------------------------------------------------------------------------------------------
// SVG
// ------------------------------------------------------------------------------------------------

const FONT = 'system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif';
const OURS = '#2563eb';
const PEER = '#9ca3af';
const INK = '#111827';
const MUTED = '#6b7280';
const GRID = '#e5e7eb';

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Width of a label in 12px sans-serif, roughly (no font metrics in plain text). */
const textWidth = (s: string, px = 12) => s.length * px * 0.56;

const valueText = (x: number, unit: string) => formatValue(x, unit) + (unit === 's' ? '' : ` ${unit}`);

/** 1, 2 or 5 times a power of ten, giving about `count` steps up to max. */
function niceStep(max: number, count: number): number {
  const raw = max / count;
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw)!;
}

/** An axis tick: round numbers without padding (0, 50k, 100k; 0 ms, 50 ms). */
function tickLabel(v: number, unit: string, axisMax: number): string {
  const round = (x: number) => Number(x.toPrecision(3)).toLocaleString('en-US');
  if (v === 0) return '0';
  if (unit === 's') return axisMax < 1 ? `${round(v * 1000)} ms` : `${round(v)} s`;
  return axisMax >= 10_000 ? `${round(v / 1000)}k` : round(v);
}

/**
 * A horizontal bar chart: one panel per metric, a bar per row (its median), a whisker from min to
 * max, the value at the end; metatask's bars in blue, peers' in grey; the machine in the subtitle.
 */
export function renderSvg(chart: Chart, subtitle: string): string {
  const width = 860;
  const allLabels = chart.panels.flatMap((p) => p.bars.map((b) => b.label));
  const labelWidth = Math.min(420, Math.max(140, ...allLabels.map((l) => textWidth(l)))) + 16;
  const valueWidth = Math.max(90, ...chart.panels.flatMap((p) => p.bars.map((b) => textWidth(valueText(b.value, p.unit))))) + 12;
  const x0 = labelWidth;
  const plotWidth = width - x0 - valueWidth - 16;
  const rowH = 24;
  const out: string[] = [];
  let y = 28;
  out.push(`<text x="16" y="${y}" font-size="15" font-weight="600" fill="${INK}">${escapeXml(chart.title)}</text>`);
  y += 18;
  out.push(`<text x="16" y="${y}" font-size="11" fill="${MUTED}">${escapeXml(subtitle)}</text>`);
  y += 18;
  out.push(`<rect x="16" y="${y - 9}" width="10" height="10" fill="${OURS}"/><text x="31" y="${y}" font-size="11" fill="${INK}">metatask</text>`);
  out.push(`<rect x="96" y="${y - 9}" width="10" height="10" fill="${PEER}"/><text x="111" y="${y}" font-size="11" fill="${INK}">peers</text>`);
  out.push(`<text x="166" y="${y}" font-size="11" fill="${MUTED}">bar: median; whisker: min to max</text>`);
  y += 14;
  for (const panel of chart.panels) y = renderPanel(panel, out, y, x0, plotWidth, rowH);
  const height = y + 8;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" font-family="${FONT}">`,
    `<title>${escapeXml(chart.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    ...out,
    '</svg>',
    '',
  ].join('\n');
}

function renderPanel(panel: ChartPanel, out: string[], top: number, x0: number, plotWidth: number, rowH: number): number {
  let y = top + 22;
  const title = panel.title.includes('is better') ? panel.title : `${panel.title} (${panel.better} is better)`;
  out.push(`<text x="16" y="${y}" font-size="13" font-weight="600" fill="${INK}">${escapeXml(title)}</text>`);
  y += 10;
  if (panel.bars.length === 0) {
    out.push(`<text x="16" y="${y + 16}" font-size="12" fill="${MUTED}">(nothing ran)</text>`);
    return y + 28;
  }
  const top0 = Math.max(...panel.bars.map((b) => Math.max(b.value, b.max ?? b.value)));
  const step = niceStep(top0 > 0 ? top0 : 1, 4);
  const axisMax = Math.ceil((top0 > 0 ? top0 : 1) / step) * step;
  const sx = (v: number) => x0 + (Math.max(0, v) / axisMax) * plotWidth;
  const plotTop = y;
  const plotBottom = y + panel.bars.length * rowH;
  for (let v = 0; v <= axisMax + step / 2; v += step) {
    const x = sx(v).toFixed(1);
    out.push(`<line x1="${x}" y1="${plotTop}" x2="${x}" y2="${plotBottom}" stroke="${GRID}"/>`);
    out.push(`<text x="${x}" y="${plotBottom + 14}" font-size="10" fill="${MUTED}" text-anchor="middle">${escapeXml(tickLabel(v, panel.unit, axisMax))}</text>`);
  }
  for (const b of panel.bars) {
    const cy = y + rowH / 2;
    const w = Math.max(1, sx(b.value) - x0);
    out.push(`<text x="${x0 - 8}" y="${cy + 4}" font-size="12" fill="${INK}" text-anchor="end">${escapeXml(b.label)}</text>`);
    out.push(`<rect x="${x0}" y="${cy - 7}" width="${w.toFixed(1)}" height="14" fill="${b.ours ? OURS : PEER}"/>`);
    let end = sx(b.value);
    if (b.min !== undefined && b.max !== undefined && b.max > b.min) {
      const [a, c] = [sx(b.min).toFixed(1), sx(b.max).toFixed(1)];
      out.push(`<line x1="${a}" y1="${cy}" x2="${c}" y2="${cy}" stroke="${INK}" stroke-width="1.2"/>`);
      out.push(`<line x1="${a}" y1="${cy - 4}" x2="${a}" y2="${cy + 4}" stroke="${INK}" stroke-width="1.2"/>`);
      out.push(`<line x1="${c}" y1="${cy - 4}" x2="${c}" y2="${cy + 4}" stroke="${INK}" stroke-width="1.2"/>`);
      end = Math.max(end, sx(b.max));
    }
    out.push(`<text x="${(end + 6).toFixed(1)}" y="${cy + 4}" font-size="12" fill="${INK}">${escapeXml(valueText(b.value, panel.unit))}</text>`);
    y += rowH;
  }
  out.push(`<line x1="${x0}" y1="${plotTop}" x2="${x0}" y2="${plotBottom}" stroke="${INK}"/>`);
  return plotBottom + 22;
}

// ------------------------------------------------------------------------------------------------
// Markdown
// ------------------------------------------------------------------------------------------------

/** The chart files of a result: <id>.svg, or <id>-<k>.svg when it has several. */
export function chartFiles(r: WorkloadResult): string[] {
  const n = r.charts?.length ?? 0;
  return Array.from({ length: n }, (_, k) => (n === 1 ? `${r.id}.svg` : `${r.id}-${k + 1}.svg`));
}

/**
 * The report body: how it was made, the machine, then per workload its charts (images under
 * `imageDir`), tables and notes. Workloads measured on another machine or day say so.
 */
export function renderMarkdown(results: readonly SavedResult[], imageDir: string, headingLevel = 3): string {
  if (results.length === 0) return '_No results yet: run `npm run bench -- --report`._';
  const h = '#'.repeat(headingLevel);
  const first = results[0]!.machine;
  const parts: string[] = [];
  if (results.some((r) => r.quick)) parts.push('**Smoke-test sizes (`--quick`): these figures mean nothing.**');
  parts.push(
    `Measured with \`npm run bench -- --report\` on ${machineLine(first)}` +
      ` (load average ${first.loadAverage} at the start). Each row names its backend, SIMD level and threads; ` +
      'a ratio compares rows of the same run; medians with min and max, and the cold first measurement of a fresh process beside them.',
  );
  for (const r of results) {
    parts.push(`${h} ${r.title}`);
    const m = r.machine;
    if (machineLine(m) !== machineLine(first)) parts.push(`_Measured on ${machineLine(m)} (load average ${m.loadAverage})._`);
    for (const f of chartFiles(r)) parts.push(`![${r.title}](${imageDir ? `${imageDir}/` : ''}${f})`);
    parts.push(r.table);
    if (r.notes.length) parts.push(r.notes.map((n) => `- ${n}`).join('\n'));
  }
  return parts.join('\n\n');
}

/** `text` with what lies between the benchmark markers replaced by `body`. */
export function replaceMarkedSection(text: string, body: string): string {
  const a = text.indexOf(README_BEGIN);
  const b = text.indexOf(README_END);
  if (a < 0 || b < a) throw new Error(`the README has no benchmark markers: put the lines\n${README_BEGIN}\n${README_END}\nwhere the section goes`);
  return `${text.slice(0, a + README_BEGIN.length)}\n${body}\n${text.slice(b)}`;
}

// ------------------------------------------------------------------------------------------------
// Files
// ------------------------------------------------------------------------------------------------

/** Write one workload's results file and its charts. */
export function saveResult(dir: string, r: SavedResult): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${r.id}.json`), `${JSON.stringify(r, null, 2)}\n`);
  const files = chartFiles(r);
  r.charts?.forEach((c, k) => writeFileSync(join(dir, files[k]!), renderSvg(c, machineLine(r.machine))));
}

/** Every results file in `dir`, in the order of `ids` (others after, by name). */
export function loadResults(dir: string, ids: readonly string[]): SavedResult[] {
  if (!existsSync(dir)) return [];
  const all = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as SavedResult)
    .filter((r) => typeof r.id === 'string' && typeof r.table === 'string' && r.machine);
  const rank = (id: string) => (ids.includes(id) ? ids.indexOf(id) : ids.length);
  return all.sort((a, b) => rank(a.id) - rank(b.id) || a.id.localeCompare(b.id));
}

/**
 * The full report (dir/README.md) from every results file in `dir`, and, when `readme` is given,
 * its Benchmarks section (images relative to the README's folder through `imageDirFromReadme`).
 */
export function writeReport(dir: string, ids: readonly string[], readme?: { file: string; imageDir: string }): void {
  const results = loadResults(dir, ids);
  writeFileSync(
    join(dir, 'README.md'),
    `# Benchmark results\n\nWritten by \`npm run bench -- --report\` from the results files in this folder.\n\n${renderMarkdown(results, '', 2)}\n`,
  );
  if (readme) writeFileSync(readme.file, replaceMarkedSection(readFileSync(readme.file, 'utf8'), renderMarkdown(results, readme.imageDir)));
}
