/**
 * SVG charts as plain text, with no dependency: line charts (learning curves) and horizontal bar
 * charts (per-task metrics, benchmark timings). The CLI's `--plot` and the benchmark report draw
 * with these.
 */
export { lineChart, type LineChartOptions, type Series } from './lineChart.js';
export { barChart, type Bar, type BarChartOptions, type BarGroup, type BarPanel } from './barChart.js';
export { formatNumber } from './scale.js';
export { escapeXml, PALETTE } from './svg.js';
