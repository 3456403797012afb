/**
 * A horizontal bar chart as SVG text: one or more panels stacked (one per metric), a bar per
 * label drawn from zero (negative values to the left of it), an optional whisker from `min` to
 * `max` (the spread of repeated measurements), the value printed at the bar's end, and a colour
 * per group with its legend. Used for per-task metrics and benchmark timings.
 */
import { formatNumber, linearScale } from './scale.js';
import { clip, color, element, GRID, heading, INK, legend, line, MUTED, svgDocument, text, textWidth } from './svg.js';

export interface Bar {
  label: string;
  value: number;
  /** Whisker ends (e.g. the min and max of repeated timings); drawn when both are given. */
  min?: number;
  max?: number;
  /** Key of the bar's group in `BarChartOptions.groups` (its colour); default the first group. */
  group?: string;
}

export interface BarPanel {
  /** Heading of the panel (e.g. "R² per task"). */
  title?: string;
  bars: readonly Bar[];
  /** Said after the title: "(higher is better)" or "(lower is better)". */
  better?: 'higher' | 'lower';
  /** Text of a value at a bar's end (default: formatNumber, with `unit` after it). */
  format?: (value: number) => string;
  /** Text of an axis tick (default: formatNumber). */
  tickFormat?: (value: number) => string;
  /** Unit printed after the values (e.g. 's', 'ms', 'samples/s'). */
  unit?: string;
}

export interface BarGroup {
  key: string;
  label: string;
  /** Default: the palette's colour of the group's position. */
  color?: string;
}

export interface BarChartOptions {
  title: string;
  subtitle?: string;
  panels: readonly BarPanel[];
  /** Colours and legend of the bars' groups; without them every bar has the first palette colour and no legend. */
  groups?: readonly BarGroup[];
  /** A line after the legend, e.g. "bar: median; whisker: min to max". */
  note?: string;
  /** Width in pixels. Default 860. */
  width?: number;
}

const ROW = 22;

/** The chart as an SVG document (a string). Non-finite values are drawn as "n/a" without a bar. */
export function barChart(options: BarChartOptions): string {
  const width = options.width ?? 860;
  const groups = options.groups ?? [];
  const colorOf = new Map(groups.map((g, k) => [g.key, g.color ?? color(k)]));
  const fallback = groups.length ? colorOf.get(groups[0]!.key)! : color(0);
  const valueText = (p: BarPanel, v: number) => (!Number.isFinite(v) ? 'n/a' : p.format ? p.format(v) : formatNumber(v) + (p.unit ? ` ${p.unit}` : ''));
  const labels = options.panels.flatMap((p) => p.bars.map((b) => b.label));
  const labelWidth = Math.min(360, Math.max(80, ...labels.map((l) => textWidth(l)))) + 24;
  const valueWidth = Math.max(60, ...options.panels.flatMap((p) => p.bars.map((b) => textWidth(valueText(p, b.value))))) + 16;

  const out: string[] = [];
  let y = heading(out, options.title, options.subtitle);
  if (groups.length || options.note) {
    y = legend(out, groups.map((g) => ({ label: g.label, color: colorOf.get(g.key)! })), 16, y + 6, options.note);
  }
  for (const panel of options.panels) {
    y = drawPanel(out, panel, y, labelWidth, width - valueWidth - 16, (b) => (b.group !== undefined ? (colorOf.get(b.group) ?? fallback) : fallback), (v) => valueText(panel, v));
  }
  return svgDocument(width, y + 8, options.title, out);
}

function drawPanel(out: string[], panel: BarPanel, top: number, x0: number, x1: number, colorOf: (b: Bar) => string, valueText: (v: number) => string): number {
  let y = top + 14;
  if (panel.title) {
    y += 8;
    const better = panel.better ? ` (${panel.better} is better)` : '';
    out.push(text(16, y, panel.title + better, { 'font-size': 13, 'font-weight': 600, fill: INK }));
    y += 8;
  }
  if (panel.bars.length === 0) {
    out.push(text(16, y + 16, '(no values)', { 'font-size': 12, fill: MUTED }));
    return y + 28;
  }
  const finite = panel.bars.flatMap((b) => [b.value, b.min, b.max]).filter((v): v is number => v !== undefined && Number.isFinite(v));
  const scale = linearScale(Math.min(0, ...finite), Math.max(0, ...finite), x0, x1, 5);
  const tick = panel.tickFormat ?? formatNumber;
  // A tall panel repeats its tick labels above the bars, where a reader starts.
  const tall = panel.bars.length > 25;
  if (tall) y += 14;
  const plotTop = y;
  const plotBottom = y + panel.bars.length * ROW;
  for (const v of scale.ticks) {
    const x = scale.at(v);
    out.push(line(x, plotTop, x, plotBottom, GRID));
    out.push(text(x, plotBottom + 14, tick(v), { 'font-size': 10, fill: MUTED, 'text-anchor': 'middle' }));
    if (tall) out.push(text(x, plotTop - 4, tick(v), { 'font-size': 10, fill: MUTED, 'text-anchor': 'middle' }));
  }
  const zero = scale.at(0);
  for (const b of panel.bars) {
    const cy = y + ROW / 2;
    out.push(text(x0 - 8, cy + 4, clip(b.label, x0 - 24), { 'font-size': 12, fill: INK, 'text-anchor': 'end' }));
    let end = zero;
    if (Number.isFinite(b.value)) {
      const x = scale.at(b.value);
      out.push(element('rect', { x: Math.min(zero, x), y: cy - 7, width: Math.max(1, Math.abs(x - zero)), height: 14, fill: colorOf(b) }));
      end = Math.max(zero, x);
    }
    if (b.min !== undefined && b.max !== undefined && Number.isFinite(b.min) && Number.isFinite(b.max) && b.max > b.min) {
      const [a, c] = [scale.at(b.min), scale.at(b.max)];
      out.push(line(a, cy, c, cy, INK, { 'stroke-width': 1.2 }));
      out.push(line(a, cy - 4, a, cy + 4, INK, { 'stroke-width': 1.2 }));
      out.push(line(c, cy - 4, c, cy + 4, INK, { 'stroke-width': 1.2 }));
      end = Math.max(end, c);
    }
    out.push(text(end + 6, cy + 4, valueText(b.value), { 'font-size': 12, fill: INK }));
    y += ROW;
  }
  out.push(line(zero, plotTop, zero, plotBottom, INK));
  return plotBottom + 22;
}
