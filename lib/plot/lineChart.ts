/**
 * A line chart as SVG text: one or more series over a shared x axis (e.g. the training and
 * validation loss per epoch, or a meta-loss per iteration), a linear or log10 y axis, grid lines
 * at round ticks and a legend. A missing value (NaN) breaks its line; a series longer than the
 * plot is wide is drawn through the minimum and maximum of each pixel column, so a noisy curve of
 * 10,000 steps keeps its envelope in a file of a few kilobytes.
 */
import { formatNumber, linearScale, logScale, type Scale } from './scale.js';
import { color, element, GRID, heading, INK, legend, line, MUTED, px, svgDocument, text, textWidth } from './svg.js';

export interface Series {
  name: string;
  /** y values; NaN leaves a gap. */
  y: ArrayLike<number>;
  /** x values, same length as y (default 1, 2, 3, ...). */
  x?: ArrayLike<number>;
  /** Default: the palette's colour of the series' position. */
  color?: string;
  /** Draw dashed (e.g. a validation curve beside its training curve). */
  dashed?: boolean;
  /** A shaded band around the line (e.g. a 95% interval): its lower and upper values at each x. */
  band?: { lo: ArrayLike<number>; hi: ArrayLike<number> };
  /** Mark every point with a dot (for short series, e.g. a loss after 0, 1 and 10 steps). Default: when it has at most 30 points. */
  markers?: boolean;
}

export interface LineChartOptions {
  title: string;
  subtitle?: string;
  series: readonly Series[];
  xLabel?: string;
  yLabel?: string;
  /**
   * 'log' for values spanning decades (a duality gap, a loss falling from 1e3 to 1e-2); values
   * <= 0 are then left out. 'auto' (the default) picks log when every value is positive and the
   * largest is over 1000 times the smallest.
   */
  yScale?: 'linear' | 'log' | 'auto';
  width?: number;
  height?: number;
}

/** The chart as an SVG document (a string). */
export function lineChart(options: LineChartOptions): string {
  const width = options.width ?? 760;
  const height = options.height ?? 420;
  const series = options.series.map((s, k) => ({ ...s, color: s.color ?? color(k), points: pointsOf(s) }));
  const ys = series.flatMap((s) => [...s.points.map((p) => p[1]), ...(s.band ? [...Array.from(s.band.lo), ...Array.from(s.band.hi)] : [])]).filter((v) => Number.isFinite(v));
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const [yMin, yMax] = extent(ys);
  const mode = options.yScale ?? 'auto';
  const useLog = mode === 'log' ? yMax > 0 : mode === 'auto' && ys.length > 0 && yMin > 0 && yMax > 1000 * yMin;

  const out: string[] = [];
  let top = heading(out, options.title, options.subtitle);
  top = legend(out, series.map((s) => ({ label: s.name, color: s.color, dashed: s.dashed })), 16, top + 6) + 8;
  const bottom = height - (options.xLabel ? 44 : 30);
  const yScaleProbe = makeY(useLog, ys, 0, 1);
  const tickWidth = Math.max(...yScaleProbe.ticks.map((t) => textWidth(formatNumber(t), 10)));
  const left = 16 + (options.yLabel ? 18 : 0) + tickWidth + 8;
  const right = width - 20;
  const y = makeY(useLog, ys, bottom, top);
  const [xMin, xMax] = xs.length ? extent(xs) : [0, 1];
  const x = linearScale(xMin, xMax, left, right, 6);

  for (const v of y.ticks) {
    const py = y.at(v);
    out.push(line(left, py, right, py, GRID));
    out.push(text(left - 6, py + 3.5, formatNumber(v), { 'font-size': 10, fill: MUTED, 'text-anchor': 'end' }));
  }
  for (const v of x.ticks) {
    const qx = x.at(v);
    out.push(line(qx, bottom, qx, bottom + 4, MUTED));
    out.push(text(qx, bottom + 16, formatNumber(v), { 'font-size': 10, fill: MUTED, 'text-anchor': 'middle' }));
  }
  out.push(line(left, bottom, right, bottom, INK));
  out.push(line(left, top, left, bottom, INK));
  if (options.xLabel) out.push(text((left + right) / 2, height - 12, options.xLabel, { 'font-size': 12, fill: INK, 'text-anchor': 'middle' }));
  if (options.yLabel) {
    const cy = (top + bottom) / 2;
    out.push(text(16, cy, options.yLabel, { 'font-size': 12, fill: INK, 'text-anchor': 'middle', transform: `rotate(-90 ${px(22)} ${px(cy)})`, dy: 6 }));
  }
  if (ys.length === 0) out.push(text((left + right) / 2, (top + bottom) / 2, '(no values)', { 'font-size': 12, fill: MUTED, 'text-anchor': 'middle' }));

  for (const s of series) {
    if (s.band) out.push(bandPolygon(s, x, y, useLog));
    const pts = s.points.filter((p) => !useLog || p[1] > 0);
    const drawn = thin(pts, x, right - left);
    for (const run of runs(drawn)) {
      const d = run.map(([a, b]) => `${px(x.at(a))},${px(y.at(b))}`).join(' ');
      if (run.length > 1) out.push(element('polyline', { points: d, fill: 'none', stroke: s.color, 'stroke-width': 1.8, 'stroke-linejoin': 'round', 'stroke-dasharray': s.dashed ? '5 4' : undefined }));
    }
    if (s.markers ?? pts.length <= 30) {
      for (const [a, b] of pts) if (Number.isFinite(b)) out.push(element('circle', { cx: x.at(a), cy: y.at(b), r: 3, fill: s.color }));
    }
  }
  return svgDocument(width, height, options.title, out);
}

/** The band of a series as one closed polygon (upper edge left to right, lower edge back). */
function bandPolygon(s: Series & { color: string }, x: Scale, y: Scale, useLog: boolean): string {
  const xs = Array.from({ length: s.y.length }, (_, i) => (s.x ? s.x[i]! : i + 1));
  const ok = (v: number) => Number.isFinite(v) && (!useLog || v > 0);
  const idx = xs.map((_, i) => i).filter((i) => ok(s.band!.lo[i]!) && ok(s.band!.hi[i]!) && Number.isFinite(xs[i]!));
  const upper = idx.map((i) => `${px(x.at(xs[i]!))},${px(y.at(s.band!.hi[i]!))}`);
  const lower = idx.reverse().map((i) => `${px(x.at(xs[i]!))},${px(y.at(s.band!.lo[i]!))}`);
  return element('polygon', { points: [...upper, ...lower].join(' '), fill: s.color, 'fill-opacity': 0.15, stroke: 'none' });
}

function makeY(useLog: boolean, ys: number[], p0: number, p1: number): Scale {
  if (ys.length === 0) return linearScale(0, 1, p0, p1);
  if (useLog) {
    const [lo, hi] = extent(ys.filter((v) => v > 0));
    return logScale(lo, hi, p0, p1);
  }
  const [lo, hi] = extent(ys);
  return linearScale(lo, hi, p0, p1);
}

/** [min, max] of finite values, by a loop (a spread of 10^6 arguments would overflow the stack). */
function extent(values: readonly number[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/** (x, y) pairs of a series; NaN y kept (it breaks the line), NaN x dropped. */
function pointsOf(s: Series): [number, number][] {
  const n = s.y.length;
  const pts: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    const xv = s.x ? s.x[i]! : i + 1;
    const yv = s.y[i]!;
    if (Number.isFinite(xv) && !(yv === Infinity || yv === -Infinity)) pts.push([xv, yv]);
  }
  return pts;
}

/** Runs of consecutive points with finite y (a NaN ends a run). */
function runs(pts: readonly [number, number][]): [number, number][][] {
  const out: [number, number][][] = [];
  let cur: [number, number][] = [];
  for (const p of pts) {
    if (Number.isNaN(p[1])) {
      if (cur.length) out.push(cur);
      cur = [];
    } else cur.push(p);
  }
  if (cur.length) out.push(cur);
  return out;
}

/**
 * At most about two points per pixel column: past that, each column keeps its first point with
 * the smallest and the largest y (in x order), which draws the same envelope.
 */
function thin(pts: [number, number][], x: Scale, plotWidth: number): [number, number][] {
  if (pts.length <= 2 * plotWidth) return pts;
  const out: [number, number][] = [];
  let col = NaN;
  let group: [number, number][] = [];
  const flush = () => {
    if (!group.length) return;
    const finite = group.filter((p) => !Number.isNaN(p[1]));
    if (finite.length === 0) {
      out.push(group[0]!);
    } else {
      const lo = finite.reduce((a, b) => (b[1] < a[1] ? b : a));
      const hi = finite.reduce((a, b) => (b[1] > a[1] ? b : a));
      const keep = new Set([finite[0]!, lo, hi, finite[finite.length - 1]!]);
      for (const p of group) if (keep.has(p)) out.push(p);
      // A gap inside the column stays a gap.
      if (finite.length < group.length) out.push([group[group.length - 1]![0], NaN]);
    }
    group = [];
  };
  for (const p of pts) {
    const c = Math.floor(x.at(p[0]));
    if (c !== col) {
      flush();
      col = c;
    }
    group.push(p);
  }
  flush();
  return out;
}
