/**
 * The pieces every chart is written with: SVG elements as plain, readable text (one element per
 * line, coordinates to 0.1 px, escaped text), the document around them, the colours and an
 * estimate of text widths (a text file has no font metrics; 0.56 em per character fits the
 * sans-serif fonts browsers pick for `system-ui`).
 */

export const FONT = 'system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif';
export const INK = '#111827';
export const MUTED = '#6b7280';
export const GRID = '#e5e7eb';

/**
 * Series colours, distinct for readers with the common colour-vision deficiencies (the first
 * eight of the Okabe-Ito palette, reordered so the first two are the most distinct).
 */
export const PALETTE = ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#e69f00', '#56b4e9', '#000000', '#f0e442'] as const;

/** Colour `k` of the palette (repeats past its end). */
export function color(k: number): string {
  return PALETTE[k % PALETTE.length]!;
}

/** Text safe inside an SVG element or attribute. */
export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** Approximate width in pixels of `s` in a sans-serif font of `px` pixels. */
export function textWidth(s: string, px = 12): number {
  return s.length * px * 0.56;
}

/** `s` cut to fit in `maxPx` pixels of `px`-pixel text, with an ellipsis when cut. */
export function clip(s: string, maxPx: number, px = 12): string {
  const n = Math.floor(maxPx / (px * 0.56));
  return s.length <= n ? s : `${s.slice(0, Math.max(1, n - 1))}\u2026`;
}

/** A coordinate as the SVG text writes it: at most one decimal. */
export function px(v: number): string {
  return String(Math.round(v * 10) / 10);
}

export type Attrs = Record<string, string | number | undefined>;

function attrs(a: Attrs): string {
  return Object.entries(a)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${typeof v === 'number' ? px(v) : escapeXml(v!)}"`)
    .join('');
}

/** `<tag a="..."/>`. */
export function element(tag: string, a: Attrs): string {
  return `<${tag}${attrs(a)}/>`;
}

/** `<text ...>content</text>` with the content escaped. */
export function text(x: number, y: number, content: string, a: Attrs = {}): string {
  return `<text${attrs({ x, y, ...a })}>${escapeXml(content)}</text>`;
}

export function line(x1: number, y1: number, x2: number, y2: number, stroke: string, a: Attrs = {}): string {
  return element('line', { x1, y1, x2, y2, stroke, ...a });
}

/** The document: a white background, the title as `<title>` (what screen readers announce), then `body`. */
export function svgDocument(width: number, height: number, title: string, body: readonly string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${px(width)}" height="${px(height)}" viewBox="0 0 ${px(width)} ${px(height)}" role="img" font-family="${FONT}">`,
    `<title>${escapeXml(title)}</title>`,
    element('rect', { width, height, fill: '#ffffff' }),
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

/** Title and subtitle lines at the top left; returns the y below them. */
export function heading(out: string[], title: string, subtitle: string | undefined, left = 16): number {
  let y = 26;
  out.push(text(left, y, title, { 'font-size': 15, 'font-weight': 600, fill: INK }));
  if (subtitle) {
    y += 18;
    out.push(text(left, y, subtitle, { 'font-size': 11, fill: MUTED }));
  }
  return y + 12;
}

/** A legend of coloured swatches in one row from (x, y); returns the y below it. */
export function legend(out: string[], entries: readonly { label: string; color: string; dashed?: boolean }[], x: number, y: number, note?: string): number {
  let cx = x;
  for (const e of entries) {
    if (e.dashed) out.push(line(cx, y - 4, cx + 14, y - 4, e.color, { 'stroke-width': 2, 'stroke-dasharray': '4 3' }));
    else out.push(element('rect', { x: cx, y: y - 9, width: 10, height: 10, fill: e.color }));
    out.push(text(cx + (e.dashed ? 18 : 14), y, e.label, { 'font-size': 11, fill: INK }));
    cx += (e.dashed ? 18 : 14) + textWidth(e.label, 11) + 16;
  }
  if (note) out.push(text(cx, y, note, { 'font-size': 11, fill: MUTED }));
  return y + 14;
}
