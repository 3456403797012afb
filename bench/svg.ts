/**
 * A small SVG line chart for bench results (no dependencies): one or more series of (x, y) points
 * on linear axes with ticks, a title, axis labels and a legend.
 */
export interface Series {
  label: string;
  points: [number, number][];
  /** Optional error half-widths, one per point (drawn as vertical bars). */
  errors?: number[];
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Axis ranges (default: the data's, padded). */
  yMin?: number;
  yMax?: number;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e'];

/** Ticks at 1, 2 or 5 times a power of ten covering [lo, hi]. */
function ticks(lo: number, hi: number, count = 6): number[] {
  const span = hi - lo || 1;
  const raw = span / count;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9 * span; t += step) out.push(Number(t.toPrecision(12)));
  return out;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function lineChart(series: Series[], o: ChartOptions): string {
  const W = 640;
  const H = 400;
  const m = { left: 64, right: 20, top: 40, bottom: 56 };
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p, i) => [p[1] - (s.errors?.[i] ?? 0), p[1] + (s.errors?.[i] ?? 0)]).flat());
  const x0 = Math.min(0, ...xs);
  const x1 = Math.max(x0 + 1e-9, ...xs);
  const y0 = o.yMin ?? Math.min(...ys);
  const y1 = o.yMax ?? Math.max(y0 + 1e-9, ...ys);
  const px = (x: number): number => m.left + ((x - x0) / (x1 - x0)) * (W - m.left - m.right);
  const py = (y: number): number => H - m.bottom - ((y - y0) / (y1 - y0)) * (H - m.top - m.bottom);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${esc(o.title)}</text>`);
  for (const t of ticks(x0, x1)) {
    parts.push(`<line x1="${px(t)}" y1="${py(y0)}" x2="${px(t)}" y2="${py(y1)}" stroke="#eee"/>`);
    parts.push(`<text x="${px(t)}" y="${H - m.bottom + 16}" text-anchor="middle">${t}</text>`);
  }
  for (const t of ticks(y0, y1)) {
    parts.push(`<line x1="${px(x0)}" y1="${py(t)}" x2="${px(x1)}" y2="${py(t)}" stroke="#eee"/>`);
    parts.push(`<text x="${m.left - 6}" y="${py(t) + 4}" text-anchor="end">${t}</text>`);
  }
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${W - m.left - m.right}" height="${H - m.top - m.bottom}" fill="none" stroke="#444"/>`);
  parts.push(`<text x="${(m.left + W - m.right) / 2}" y="${H - 14}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${(m.top + H - m.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`);
  series.forEach((s, k) => {
    const color = COLORS[k % COLORS.length]!;
    const pts = s.points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ');
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts}"/>`);
    s.points.forEach(([x, y], i) => {
      parts.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${color}"/>`);
      const e = s.errors?.[i];
      if (e) parts.push(`<line x1="${px(x).toFixed(1)}" y1="${py(y - e).toFixed(1)}" x2="${px(x).toFixed(1)}" y2="${py(y + e).toFixed(1)}" stroke="${color}"/>`);
    });
    const ly = m.top + 16 + 18 * k;
    parts.push(`<line x1="${W - m.right - 190}" y1="${ly - 4}" x2="${W - m.right - 170}" y2="${ly - 4}" stroke="${color}" stroke-width="2"/>`);
    parts.push(`<text x="${W - m.right - 164}" y="${ly}">${esc(s.label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
