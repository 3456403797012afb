/**
 * The benchmark report: the results files (bench/results/<id>.json, one per workload, with the
 * machine it ran on), one SVG bar chart per workload drawn here as plain text, the full Markdown
 * report (bench/results/README.md) and the Benchmarks section of the package README (between its
 * markers). Everything is rendered from the results files, so rerunning one workload updates its
 * part and keeps the others.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { barChart, formatNumber } from '../lib/plot/index.js';
import { conditionsLine, formatValue, machineLine, type Chart, type Machine, type WorkloadResult } from './harness.js';

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

const PEER_GREY = '#9ca3af';

/** An axis tick: round numbers (0, 50k, 100k; 0, 50 ms, 100 ms). */
function tickLabel(v: number, unit: string): string {
  if (unit !== 's' || v === 0) return formatNumber(v);
  return v < 1 ? `${formatNumber(v * 1000)} ms` : `${formatNumber(v)} s`;
}

/**
 * A horizontal bar chart (lib/plot): one panel per metric, a bar per row (its median), a whisker
 * from min to max, the value at the end; metatask's bars in colour, peers' in grey; the machine in
 * the subtitle.
 */
export function renderSvg(chart: Chart, subtitle: string): string {
  return barChart({
    title: chart.title,
    subtitle,
    groups: [
      { key: 'ours', label: 'metatask' },
      { key: 'peer', label: 'peers', color: PEER_GREY },
    ],
    note: 'bar: median; whisker: min to max',
    panels: chart.panels.map((p) => ({
      title: p.title,
      better: p.better,
      format: (v: number) => formatValue(v, p.unit) + (p.unit === 's' ? '' : ` ${p.unit}`),
      tickFormat: (v: number) => tickLabel(v, p.unit),
      bars: p.bars.map((b) => ({ label: b.label, value: b.value, min: b.min, max: b.max, group: b.ours ? 'ours' : 'peer' })),
    })),
  });
}

// ------------------------------------------------------------------------------------------------
// Markdown
// ------------------------------------------------------------------------------------------------

/** The chart files of a result: <id>.svg, or <id>-<k>.svg when it has several. */
export function chartFiles(r: WorkloadResult): string[] {
  const n = r.charts?.length ?? 0;
  return Array.from({ length: n }, (_, k) => (n === 1 ? `${r.id}.svg` : `${r.id}-${k + 1}.svg`));
}

/** The images the report shows for a result: its charts, then SVG files it wrote itself. */
function images(r: WorkloadResult): string[] {
  return [...chartFiles(r), ...(r.files ?? []).map((f) => f.name).filter((f) => f.endsWith('.svg'))];
}

/**
 * The report body: how it was made, the machine, then per workload its charts (images under
 * `imageDir`), tables and notes. Workloads measured in another run (machine, day or start) say so.
 */
export function renderMarkdown(results: readonly SavedResult[], imageDir: string, headingLevel = 3): string {
  if (results.length === 0) return '_No results yet: run `npm run bench -- --report`._';
  const h = '#'.repeat(headingLevel);
  const first = results[0]!.machine;
  const parts: string[] = [];
  if (results.some((r) => r.quick)) parts.push('**Smoke-test sizes (`--quick`): these figures mean nothing.**');
  parts.push(
    `Measured with \`npm run bench -- --report\` on ${machineLine(first)}` +
      ` (${conditionsLine(first, ' at the start')}). Each row names its backend, SIMD level and threads; ` +
      'a ratio compares rows of the same run: "vs" columns are speed-ups (above 1 is faster), "a / b" columns (warm / sklearn, time portable / time -march=native) are time ratios (below 1 is faster); ' +
      'medians with min and max, and the cold first measurement of a fresh process beside them; each row is several fresh processes, the rows taking turns.',
  );
  for (const r of results) {
    parts.push(`${h} ${r.title}`);
    const m = r.machine;
    // Another run (another start, even on the same machine and day) had its own load and page costs.
    if (m.date !== first.date || machineLine(m) !== machineLine(first)) parts.push(`_Measured on ${machineLine(m)} (${conditionsLine(m, ' at the start')})._`);
    for (const f of images(r)) parts.push(`![${r.title}](${imageDir ? `${imageDir}/` : ''}${f})`);
    // Headings inside a workload's tables sit one level below its own.
    parts.push(r.table.replace(/^#{1,6} /gm, `${'#'.repeat(Math.min(6, headingLevel + 1))} `));
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
  for (const f of r.files ?? []) writeFileSync(join(dir, f.name), f.content);
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
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'README.md'),
    `# Benchmark results\n\nWritten by \`npm run bench -- --report\` from the results files in this folder.\n\n${renderMarkdown(results, '', 2)}\n`,
  );
  if (readme) writeFileSync(readme.file, replaceMarkedSection(readFileSync(readme.file, 'utf8'), renderMarkdown(results, readme.imageDir)));
}
