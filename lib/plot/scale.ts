/**
 * Axes for the SVG charts: round tick values (1, 2 or 5 times a power of ten, Heckbert's "nice
 * numbers", Graphics Gems 1990), powers of ten on a log axis, and short number labels
 * (0.25, 1.5k, 2M, 3e-5) that a chart can print without overflowing its margin.
 */

/** A map from data values to pixels along one axis, with the ticks to draw on it. */
export interface Scale {
  /** Pixel position of a data value. */
  at(v: number): number;
  /** Data values of the ticks, in increasing order. */
  ticks: number[];
  /** The data range the axis covers (after rounding out to ticks). */
  lo: number;
  hi: number;
}

/** 1, 2 or 5 times a power of ten, the smallest such step giving at most about `count` steps over `span`. */
export function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  if (!(raw > 0) || !Number.isFinite(raw)) return 1;
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw * (1 - 1e-9))!;
}

/**
 * A linear axis covering [lo, hi] rounded out to whole steps, drawn from pixel `p0` (at lo) to
 * `p1` (at hi); p1 < p0 for a vertical axis whose values grow upwards. A range of one value
 * is widened around it so the axis still has a length.
 */
export function linearScale(lo: number, hi: number, p0: number, p1: number, count = 5): Scale {
  if (!(hi > lo)) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const step = niceStep(hi - lo, count);
  const a = Math.floor(lo / step + 1e-9) * step;
  const b = Math.ceil(hi / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let k = 0; a + k * step <= b + step * 1e-9; k++) ticks.push(clean(a + k * step, step));
  return { at: (v) => p0 + ((v - a) / (b - a)) * (p1 - p0), ticks, lo: a, hi: b };
}

/**
 * A log10 axis for positive values: from the power of ten at or below lo to the one at or above
 * hi, ticks at the powers of ten (thinned to about `count` when the range spans many decades).
 */
export function logScale(lo: number, hi: number, p0: number, p1: number, count = 6): Scale {
  const e0 = Math.floor(Math.log10(lo) + 1e-9);
  let e1 = Math.ceil(Math.log10(hi) - 1e-9);
  if (e1 <= e0) e1 = e0 + 1;
  const every = Math.max(1, Math.ceil((e1 - e0) / count));
  const ticks: number[] = [];
  for (let e = e0; e <= e1; e += every) ticks.push(10 ** e);
  const l0 = e0;
  const l1 = e1;
  return { at: (v) => p0 + ((Math.log10(v) - l0) / (l1 - l0)) * (p1 - p0), ticks, lo: 10 ** e0, hi: 10 ** e1 };
}

/** `v` rounded to the precision of `step`, so ticks print as 0.3 and not 0.30000000000000004. */
function clean(v: number, step: number): number {
  const digits = Math.max(0, -Math.floor(Math.log10(step)) + 1);
  return Number(v.toFixed(Math.min(20, digits)));
}

/**
 * A short label for a number: up to 3 significant digits, k and M for thousands and millions,
 * exponent notation below 0.001 (0, 0.25, 12.5, 1.5k, 2M, 3e-5).
 */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  const short = (x: number) => String(Number(x.toPrecision(3)));
  if (a >= 1e6) return `${short(v / 1e6)}M`;
  if (a >= 1e4) return `${short(v / 1e3)}k`;
  if (a < 1e-3) return v.toExponential(1).replace(/\.0e/, 'e').replace('e-0', 'e-');
  return short(v);
}
