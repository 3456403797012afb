import { expect } from 'chai';

import { barChart, lineChart } from '../lib/plot/index.js';
import { formatNumber, linearScale, logScale, niceStep } from '../lib/plot/scale.js';
import { expectWellFormedSvg } from './helpers.js';

const count = (tags: string[], name: string) => tags.filter((t) => t === name).length;

describe('SVG charts', () => {
  describe('axes', () => {
    it('ticks are 1, 2 or 5 times a power of ten and cover the data', () => {
      expect(niceStep(10, 5)).to.equal(2);
      expect(niceStep(0.7, 5)).to.equal(0.2);
      expect(niceStep(4500, 4)).to.equal(2000);
      const s = linearScale(-0.37, 0.81, 0, 100);
      expect(s.ticks[0]).to.be.at.most(-0.37);
      expect(s.ticks[s.ticks.length - 1]).to.be.at.least(0.81);
      expect(s.ticks).to.include(0);
      expect(s.at(s.lo)).to.equal(0);
      expect(s.at(s.hi)).to.equal(100);
      // Ticks print as written, not as accumulated floating-point sums.
      expect(linearScale(0, 0.3, 0, 1).ticks.map(String)).to.deep.equal(['0', '0.1', '0.2', '0.3']);
    });

    it('a log axis runs between powers of ten with a tick at each', () => {
      const s = logScale(0.003, 420, 300, 0);
      expect(s.ticks).to.deep.equal([1e-3, 1e-2, 1e-1, 1, 10, 100, 1000]);
      expect(s.at(1e-3)).to.be.closeTo(300, 1e-9);
      expect(s.at(1000)).to.be.closeTo(0, 1e-9);
    });

    it('a range of one value still has a length', () => {
      const s = linearScale(5, 5, 0, 100);
      expect(s.hi).to.be.greaterThan(s.lo);
      expect(Number.isFinite(s.at(5))).to.equal(true);
    });

    it('numbers print short', () => {
      expect([0, 0.25, 12.5, 1500, 15000, 2e6, 3e-5, -0.5].map(formatNumber)).to.deep.equal(['0', '0.25', '12.5', '1500', '15k', '2M', '3e-5', '-0.5']);
    });
  });

  describe('lineChart', () => {
    it('draws one polyline per series, a legend entry per series and escapes its text', () => {
      const svg = lineChart({
        title: 'loss <train> & "val"',
        series: [
          { name: 'train', y: [3, 2, 1.5, 1.2] },
          { name: 'validation', y: [3.5, 2.5, 2, 1.9], dashed: true },
        ],
        xLabel: 'epoch',
        yLabel: 'loss',
      });
      const tags = expectWellFormedSvg(svg);
      expect(count(tags, 'polyline')).to.equal(2);
      expect(svg).to.include('loss &lt;train&gt; &amp; &quot;val&quot;');
      expect(svg).to.include('>validation</text>').and.include('stroke-dasharray');
    });

    it('a NaN breaks the line into two pieces', () => {
      const tags = expectWellFormedSvg(lineChart({ title: 't', series: [{ name: 's', y: [1, 2, NaN, 3, 4] }] }));
      expect(count(tags, 'polyline')).to.equal(2);
    });

    it('positive values over three decades get a log axis; a log axis leaves non-positive values out', () => {
      const auto = lineChart({ title: 'gap', series: [{ name: 'g', y: [1e2, 1, 1e-2, 1e-4] }] });
      expectWellFormedSvg(auto);
      expect(auto).to.include('>1e-4</text>').and.include('>100</text>');
      const withZero = lineChart({ title: 'gap', series: [{ name: 'g', y: [1e2, 1, 1e-2, 1e-4, 0] }], yScale: 'log' });
      expectWellFormedSvg(withZero);
      expect(withZero).to.include('>1e-4</text>');
      const linear = lineChart({ title: 'gap', series: [{ name: 'g', y: [1e2, 1, 1e-2, 1e-4] }], yScale: 'linear' });
      expect(linear).not.to.include('>1e-4</text>');
    });

    it('a long series is thinned to its envelope: the extremes stay, the points fit the width', () => {
      const n = 50_000;
      const y = Array.from({ length: n }, (_, i) => Math.sin(i / 50) + (i === 31_337 ? 9 : 0) - (i === 7_001 ? 9 : 0));
      const svg = lineChart({ title: 'long', series: [{ name: 's', y }], width: 600 });
      expectWellFormedSvg(svg);
      const points = /<polyline points="([^"]+)"/.exec(svg)![1]!.split(' ').map((p) => p.split(',').map(Number));
      expect(points.length).to.be.below(4 * 600);
      const ys = points.map((p) => p[1]!);
      // The two one-point spikes (+-9 over a sine of amplitude 1) survive the thinning: the line
      // spans most of the plot's height, where the sine alone spans a tenth of it.
      expect(Math.max(...ys) - Math.min(...ys)).to.be.greaterThan(250);
    });

    it('a band is drawn as one shaded polygon behind its line', () => {
      const tags = expectWellFormedSvg(lineChart({ title: 'b', series: [{ name: 's', x: [0, 1, 10], y: [3, 2, 1], band: { lo: [2, 1.5, 0.5], hi: [4, 2.5, 1.5] } }] }));
      expect(count(tags, 'polygon')).to.equal(1);
      expect(tags.indexOf('polygon')).to.be.below(tags.indexOf('polyline'));
    });

    it('an empty series still gives a valid document', () => {
      expect(expectWellFormedSvg(lineChart({ title: 'empty', series: [{ name: 's', y: [] }] }))).to.include('text');
    });
  });

  describe('barChart', () => {
    it('draws a bar per value from zero, negative values to its left, with whiskers and group colours', () => {
      const svg = barChart({
        title: 'R² per task',
        panels: [
          {
            title: 'R²',
            better: 'higher',
            bars: [
              { label: 'a', value: 0.5, group: 'x' },
              { label: 'b', value: -0.25, group: 'y' },
              { label: 'c', value: 0.1, min: 0.05, max: 0.2, group: 'x' },
            ],
          },
        ],
        groups: [
          { key: 'x', label: 'ours', color: '#123456' },
          { key: 'y', label: 'theirs', color: '#654321' },
        ],
      });
      const tags = expectWellFormedSvg(svg);
      const bars = [...svg.matchAll(/<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)" height="14" fill="(#\w+)"\/>/g)].map((m) => ({ x: Number(m[1]), w: Number(m[2]), fill: m[3] }));
      expect(bars).to.have.length(3);
      const zero = bars[0]!.x;
      expect(bars[1]!.x + bars[1]!.w).to.be.closeTo(zero, 0.11);
      expect(bars[0]!.w / bars[1]!.w).to.be.closeTo(2, 0.01);
      expect(bars.map((b) => b.fill)).to.deep.equal(['#123456', '#654321', '#123456']);
      expect(count(tags, 'line')).to.be.greaterThan(3);
      expect(svg).to.include('R² (higher is better)').and.include('>ours</text>');
    });

    it('a non-finite value reads n/a without a bar, and long labels are cut', () => {
      const svg = barChart({ title: 't', panels: [{ bars: [{ label: 'x'.repeat(200), value: NaN }] }] });
      expectWellFormedSvg(svg);
      expect(svg).to.include('>n/a</text>').and.include('\u2026');
      expect(svg).not.to.include('x'.repeat(100));
    });
  });
});
