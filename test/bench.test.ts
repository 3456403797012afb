import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { packageRoot } from '../lib/kernels/native.js';
import { EARLY_FITS, backendRatioNote, caseTable, toRow } from '../bench/convex.js';
import { sampledShapes, shapeTable, summaryTable } from '../bench/convexSampled.js';
import { moreWarmFits, type ConvexSideResult } from '../bench/convexFit.js';
import { apartFromTwoProcesses, chartPanel, combinedRow, concurrently, firstTouchMicros, formatValue, inTurns, mergeRuns, speedTable, stats, twoProcessesNote, TWO_PROCESSES, type Metric, type Row } from '../bench/harness.js';
import { README_BEGIN, README_END, renderMarkdown, renderSvg, replaceMarkedSection, type SavedResult } from '../bench/report.js';

const RATE: Metric = { name: 'samples/s', unit: 'samples/s', better: 'higher', cold: 'first epoch' };
const row = (impl: string, threads: number, values: number[], extra: Partial<Row> = {}): Row => ({ impl, backend: 'native', simd: 'avx2', threads, values, ...extra });

describe('benchmark harness', () => {
  it('stats gives the median (mean of the middle two for even counts), min and max', () => {
    expect(stats([3, 1, 2])).to.deep.equal({ median: 2, min: 1, max: 3 });
    expect(stats([4, 1, 3, 2])).to.deep.equal({ median: 2.5, min: 1, max: 4 });
    expect(() => stats([])).to.throw(/no values/);
  });

  it('formats seconds as ms or s and rates with thousands separators', () => {
    expect(formatValue(0.0856, 's')).to.equal('85.6 ms');
    expect(formatValue(2.5, 's')).to.equal('2.50 s');
    expect(formatValue(55400.4, 'samples/s')).to.equal('55,400');
    expect(formatValue(41.23, 'it/s')).to.equal('41.2');
  });

  it('a speed table names backend, SIMD and threads (with why resources differ), leaves skipped rows out, and computes ratios of medians', () => {
    const peer = row('peer', 1, [100, 90, 110], { backend: 'WASM', simd: 'wasm simd128', resources: 'no threads in Node' });
    const rows = [row('metatask', 2, [200, 180, 260], { cold: 50 }), peer, row('absent', 1, [], { skipped: 'absent: install it' })];
    const table = speedTable(RATE, rows, { ratios: [{ header: 'vs peer', baseline: () => peer }] });
    const lines = table.split('\n');
    expect(lines).to.have.length(4);
    expect(lines[0]).to.include('| implementation | backend | SIMD | threads |').and.include('cold: first epoch').and.include('vs peer');
    expect(lines[2]).to.match(/^\| metatask \| native \| avx2 \| 2 \| 200 \(180-260\) \| 50\.0 \| - \| 2\.00x \|$/);
    expect(lines[3]).to.include('| 1 (no threads in Node) |').and.include('| - |');
    expect(table).not.to.include('absent');
  });

  it('the runs of a configuration merge into one row: warm values pooled, the median cold and cores busy, a quality that varies shown per run', () => {
    const a = row('metatask', 1, [10, 12], { cold: 5, coresBusy: 1.0, quality: { 'test loss': 0.5, training: '5 x 512 steps' } });
    const b = row('metatask', 1, [14], { cold: 9, coresBusy: 1.2, quality: { 'test loss': 0.5, training: '5 x 512 steps' } });
    const c = row('metatask', 1, [11, 13], { cold: 6, coresBusy: 1.1, quality: { 'test loss': 0.7512345, training: '5 x 512 steps' } });
    const m = mergeRuns([a, b, c]);
    expect(m.values).to.deep.equal([10, 12, 14, 11, 13]);
    expect(m.cold).to.equal(6);
    expect(m.coresBusy).to.equal(1.1);
    expect(m.quality).to.deep.equal({ 'test loss': '0.5000 / 0.5000 / 0.7512', training: '5 x 512 steps' });
    expect(mergeRuns([a, b]).quality!['test loss']).to.equal(0.5);
    expect(mergeRuns([a, row('metatask', 1, [], { skipped: 'failed: x' })]).skipped).to.equal('failed: x');
    expect(() => mergeRuns([])).to.throw(/no runs/);
  });

  it('configurations take turns, and one that is skipped or fails is not run again', () => {
    const calls: string[] = [];
    const config = (name: string, skip = false) => (): Row => {
      calls.push(name);
      return skip ? { ...row(name, 1, []), skipped: `${name}: not installed` } : row(name, 1, [calls.length]);
    };
    const rows = inTurns([config('a'), config('b', true), config('c')], 3);
    expect(calls).to.deep.equal(['a', 'b', 'c', 'a', 'c', 'a', 'c']);
    expect(rows.map((r) => r.skipped ?? r.values)).to.deep.equal([[1, 4, 6], 'b: not installed', [3, 5, 7]]);
  });

  it('processes run at the same time combine into one row: the i-th values summed, cold and cores busy summed, a skipped one stands for all', () => {
    const a = row('metatask', 1, [100, 110, 120], { cold: 50, coresBusy: 1.0, quality: { 'test loss': 0.5 } });
    const b = row('metatask', 1, [90, 95], { cold: 40, coresBusy: 0.9, quality: { 'test loss': 0.5 } });
    const c = combinedRow([a, b], 'two at once', 'two processes');
    expect(c.values).to.deep.equal([190, 205]);
    expect(c.cold).to.equal(90);
    expect(c.coresBusy).to.be.closeTo(1.9, 1e-12);
    expect(c).to.include({ impl: 'two at once', resources: 'two processes', threads: 1 });
    expect(c.quality).to.deep.equal({ 'test loss': 0.5 });
    expect(combinedRow([a, row('metatask', 1, [1])], 'x', 'y')).not.to.have.property('cold');
    expect(combinedRow([a, row('metatask', 1, [], { skipped: 'failed: z' })], 'x', 'y')).to.include({ skipped: 'failed: z', impl: 'x' });
    expect(() => combinedRow([], 'x', 'y')).to.throw(/no rows/);
  });

  it('the two-processes note sets 2 threads beside two 1-thread processes, both over one process at 1 thread', () => {
    const one = row('metatask', 1, [100, 100, 100]);
    const two = row('metatask', 2, [140, 150, 145]);
    const pair = row('metatask', 1, [180, 170, 175]);
    const note = twoProcessesNote(one, two, pair)!;
    expect(note).to.include('together 1.75x one process alone').and.include('each at about 0.88x').and.include('2 threads: 1.45x').and.include('60% of the processes');
    expect(twoProcessesNote(one, two, row('metatask', 1, []))).to.equal(undefined);
    // Processes that gained nothing (a loaded machine) give no share of a gain.
    expect(twoProcessesNote(one, two, row('metatask', 1, [90, 95, 100]))).to.include('together 0.95x').and.include('the processes gained nothing').and.not.include('%');
  });

  it("the two-processes row is taken out of a workload's rows (for its note), the others kept in order", () => {
    const a = row('metatask', 1, [1]);
    const pair = row(TWO_PROCESSES, 1, [2]);
    const b = row('PyTorch', 1, [3]);
    expect(apartFromTwoProcesses([a, pair, b])).to.deep.equal({ rows: [a, b], pair });
    expect(apartFromTwoProcesses([a, b])).to.deep.equal({ rows: [a, b], pair: undefined });
  });

  it('concurrently runs copies of a child at once and gives their results in order', async function () {
    this.timeout(30_000);
    const results = await concurrently({ module: 'harness', fn: 'stats', arg: [3, 1, 2], count: 2 });
    expect(results).to.deep.equal([{ median: 2, min: 1, max: 3 }, { median: 2, min: 1, max: 3 }]);
    await concurrently({ module: 'harness', fn: 'stats', arg: [], count: 1 }).then(
      () => expect.fail('a failing child must reject'),
      (err: Error) => expect(err.message).to.include('harness.stats in a child process failed').and.include('no values'),
    );
    await concurrently({ module: 'harness', fn: 'stats', arg: [1], count: 0 }).then(
      () => expect.fail('count 0 must reject'),
      (err: Error) => expect(err.message).to.include('count must be a positive integer'),
    );
  });

  it('measures what a first write to fresh memory costs per 4 KiB, those writes counted by the system as page faults', () => {
    const before = process.resourceUsage().minorPageFault;
    const us = firstTouchMicros();
    const faults = process.resourceUsage().minorPageFault - before;
    expect(us).to.be.a('number').greaterThan(0).and.lessThan(10_000);
    // Two fresh 40 MiB buffers, one write per 4 KiB page: the system maps them on those writes, a
    // fault per page (20,480 in all), or per huge page where it backs such buffers with them (40).
    expect(faults).to.be.greaterThan(process.platform === 'linux' ? 39 : -1);
    // Fresh however many buffers the process freed before (not reused from the allocator's memory).
    expect(firstTouchMicros()).to.be.greaterThan(us / 4);
  });

  it('a ratio of times is baseline over row, so that more than 1 means faster', () => {
    const time: Metric = { name: 'fit time', unit: 's', better: 'lower' };
    const base = row('sklearn', 1, [0.2]);
    const table = speedTable(time, [row('metatask', 1, [0.1]), base], { ratios: [{ header: 'vs sklearn', baseline: () => base }] });
    expect(table.split('\n')[2]).to.include('| 2.00x |');
  });
});

describe('convex benchmark rows', () => {
  const fits = (times: number[], cpu: number[]): ConvexSideResult => ({ backend: 'native', simd: 'avx2', threads: 1, times, cpuTimes: cpu, objective: 1.5, nIter: 4, nonZeroRows: 3 });

  it('a side of several processes: the median of their cold fits with its spread, and their warm fits pooled', () => {
    const r = toRow('metatask native', '1 (avx2)', [fits([9, 1, 2], [10, 1.5, 2.5]), fits([5, 4, 3], [6, 4, 3]), fits([7, 6, 5], [8, 6, 5])]);
    expect(r.processes).to.equal(3);
    expect(r.cold).to.equal(7);
    expect(r.coldSpread).to.deep.equal({ median: 7, min: 5, max: 9 });
    expect(r.cpuColdSpread).to.deep.equal({ median: 8, min: 6, max: 10 });
    expect(r.warm).to.deep.equal({ median: 3.5, min: 1, max: 6 });
    expect(r.cpuWarm).to.deep.equal({ median: 3.5, min: 1.5, max: 6 });
    expect(r.nIter).to.equal(4);
  });

  it(`the warm median leaves out each process's first ${EARLY_FITS} warm fits when it ran more; they have their own column`, () => {
    const early = Array.from({ length: EARLY_FITS }, (_, i) => 10 + i);
    const r = toRow('metatask native', '1 (avx2)', [fits([20, ...early, 2, 4], [30, ...early, 3, 5]), fits([20, ...early, 3], [30, ...early, 4]), fits([20, 1, 2], [30, 1, 2])]);
    // Steady fits: 2, 4 and 3 of the long processes, and both warm fits of the short one.
    expect(r.warm).to.deep.equal({ median: 2, min: 1, max: 4 });
    expect(r.cpuWarm).to.deep.equal({ median: 3, min: 1, max: 5 });
    expect(r.cpuEarly?.max).to.equal(10 + EARLY_FITS - 1);
    expect(r.cpuEarly?.min).to.equal(1);
  });

  it('a process fits at least warmRuns warm fits, then on until they took warmSeconds, at most maxWarmRuns', () => {
    const job = { warmRuns: 5, warmSeconds: 0.25, maxWarmRuns: 200 };
    expect(moreWarmFits(job, 4, 10)).to.equal(true); // fewer than warmRuns, however long they took
    expect(moreWarmFits(job, 5, 0.1)).to.equal(true);
    expect(moreWarmFits(job, 5, 0.25)).to.equal(false);
    expect(moreWarmFits(job, 199, 0.01)).to.equal(true);
    expect(moreWarmFits(job, 200, 0.01)).to.equal(false);
    // Without warmSeconds (--quick, older jobs): warmRuns fits exactly.
    expect(moreWarmFits({ warmRuns: 5 }, 4, 0)).to.equal(true);
    expect(moreWarmFits({ warmRuns: 5 }, 5, 0)).to.equal(false);
  });

  it("a fit process imports the library as a user's program does, through the package's entry point only", () => {
    // Its modules alone left V8's heap under the first full collection's threshold, so the cold
    // fit held that collection, which a user's import of the package takes.
    const source = readFileSync(join(packageRoot(), 'bench', 'convexFit.ts'), 'utf8');
    const fromLib = [...source.matchAll(/from '(\.\.\/lib\/[^']*)'/g)].map((m) => m[1]);
    expect(fromLib).to.deep.equal(['../lib/index.js']);
  });

  it('the first warm fits of each process are pooled apart from the rest', () => {
    const slow = [0.02, 0.009, 0.008, 0.007, 0.006, 0.005, 0.001, 0.001, 0.001];
    const r = toRow('metatask native', '1 (avx2)', [fits(slow, slow), fits(slow, slow)]);
    expect(EARLY_FITS).to.equal(5);
    expect(r.cpuEarly).to.deep.equal({ median: 0.007, min: 0.005, max: 0.009 });
    expect(r.cpuWarm).to.deep.equal({ median: 0.001, min: 0.001, max: 0.001 }); // the fits after the first five, pooled over both processes
    expect(caseTable([r], 1.5, false).split('\n')[2]).to.include('| 7.0 ms |');
  });

  it('the table gives the cold fits\' spread and ratios of medians to scikit-learn\'s', () => {
    const ours = toRow('metatask native', '1 (avx2)', [fits([0.009, 0.002], [0.01, 0.002]), fits([0.005, 0.004], [0.006, 0.004])]);
    const sk = toRow('scikit-learn 1.2.1', '1 BLAS thread', [fits([0.02, 0.008], [0.02, 0.008]), fits([0.02, 0.008], [0.02, 0.008])]);
    const line = caseTable([ours, sk], 1.5, false).split('\n')[2]!;
    expect(line).to.include('8.0 ms (6.0 ms-10.0 ms) / 7.0 ms');
    expect(line).to.include('0.38x (0.38x)').and.include('0.40x (0.35x)');
  });

  it('the note gives the TypeScript kernels\' time over the native ones, CPU and wall, warm and cold, and nothing without both', () => {
    const native = toRow('metatask native', '1 (avx2)', [fits([0.009, 0.002], [0.01, 0.002]), fits([0.005, 0.004], [0.006, 0.004])]);
    const ts = toRow('metatask TypeScript', '1 (wasm simd128)', [fits([0.02, 0.006], [0.03, 0.009]), fits([0.02, 0.009], [0.03, 0.012])]);
    expect(backendRatioNote([native, ts])).to.equal(
      'metatask TypeScript over native, same run, one thread each: warm 3.50x CPU (2.50x wall), cold 3.75x CPU (2.86x wall)',
    );
    expect(backendRatioNote([native])).to.equal(undefined);
    expect(backendRatioNote([ts, { impl: 'metatask native', skipped: 'no addon' }])).to.equal(undefined);
  });
});

describe('sampled convex shapes', () => {
  it('draws the same shapes every time, within the family, a longer draw extending a shorter one', () => {
    const shapes = sampledShapes(24);
    expect(sampledShapes(24)).to.deep.equal(shapes);
    expect(sampledShapes(10)).to.deep.equal(shapes.slice(0, 10));
    for (const s of shapes) {
      expect(s.n).to.be.within(200, 20_000);
      expect(s.d).to.be.within(50, 5_000);
      expect(s.T).to.be.within(2, 50);
      expect(s.n * s.d).to.be.at.most(4_000_000);
      expect(s.support).to.be.within(1, s.d);
      expect(s.alphaFraction).to.be.within(0.01, 0.3);
    }
    // Not one shape over and over: the draws spread over the family.
    expect(new Set(shapes.map((s) => s.T)).size).to.be.greaterThan(10);
    expect(shapes.some((s) => s.fitIntercept)).to.equal(true);
    expect(shapes.some((s) => !s.fitIntercept)).to.equal(true);
  });

  it('the summary counts the shapes at most 0.3x and those slower than scikit-learn, warm and cold', () => {
    const side = (impl: string, warm: number, cold: number) => ({ impl, cpuWarm: { median: warm, min: warm, max: warm }, cpuCold: cold, warm: { median: warm, min: warm, max: warm } });
    const shape = { n: 200, d: 50, T: 2, support: 2, fitIntercept: false, alphaFraction: 0.1 };
    const results = [
      [0.2, 3],
      [0.5, 0.5],
      [1.5, 0.25],
    ].map(([warm, cold]) => ({ shape, alpha: 1, rows: [side('metatask native', warm!, cold!), side('scikit-learn 1.2.1', 1, 1)] }));
    const line = summaryTable(results, ['metatask native']).split('\n')[2]!;
    expect(line).to.equal('| metatask native | 0.50x | 1 of 3 | 1 of 3 | 0.50x | 1 of 3 | 1 of 3 |');
    expect(shapeTable(results, ['metatask native']).split('\n')[2]).to.include('| 0.20x / 3.00x |');
    // Without scikit-learn the side's own CPU times take the ratios' place.
    const alone = results.map((r) => ({ ...r, rows: r.rows.slice(0, 1) }));
    expect(shapeTable(alone, ['metatask native']).split('\n')[2]).to.include('| 200.00 / 3000.00 ms |');
  });
});

describe('benchmark report', () => {
  const machine = { cpu: 'Test CPU', cpus: 2, simd: 'avx2', simdAvailable: ['sse2', 'avx2'], memoryGiB: 8, os: 'linux', node: 'v20', metatask: '0.1.0', loadAverage: 0.1, date: '2026-01-01T00:00:00Z' };

  it('draws a bar per row, proportional to its median, labels escaped, metatask in its own colour', () => {
    const panel = chartPanel('speed <higher> & better', RATE, [row('metatask', 1, [100, 80, 120]), row('Peer <x> & y', 1, [50, 50, 50]), row('skipped', 1, [], { skipped: 'no' })]);
    expect(panel.bars).to.have.length(2);
    const svg = renderSvg({ title: 'A & B', panels: [panel] }, 'machine');
    expect(svg.startsWith('<svg ')).to.equal(true);
    expect(svg.trim().endsWith('</svg>')).to.equal(true);
    expect(svg).to.include('Peer &lt;x&gt; &amp; y').and.include('speed &lt;higher&gt; &amp; better').and.include('<title>A &amp; B</title>');
    expect(svg).not.to.match(/&(?!amp;|lt;|gt;|quot;)/);
    const bars = [...svg.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)" height="14" fill="(#[0-9a-f]+)"/g)].map((m) => ({ width: Number(m[1]), fill: m[2] }));
    expect(bars).to.have.length(2);
    expect(bars[0]!.width / bars[1]!.width).to.be.closeTo(2, 0.01);
    expect(bars[0]!.fill).not.to.equal(bars[1]!.fill);
  });

  it('rewrites only what lies between the README markers, and says where they go when absent', () => {
    const text = `# pkg\n\nintro\n\n${README_BEGIN}\nold results\n${README_END}\n\n## After\n`;
    const out = replaceMarkedSection(text, 'new results');
    expect(out).to.equal(`# pkg\n\nintro\n\n${README_BEGIN}\nnew results\n${README_END}\n\n## After\n`);
    expect(replaceMarkedSection(out, 'again')).to.include(`${README_BEGIN}\nagain\n${README_END}`);
    expect(() => replaceMarkedSection('# pkg\n', 'x')).to.throw(/no benchmark markers/);
  });

  it('the Markdown names the machine, links each chart, and marks quick runs and other machines', () => {
    const r: SavedResult = { id: 'mlp', title: 'MLP', table: '| a |\n| --- |\n| 1 |', notes: ['a note'], data: {}, charts: [{ title: 'MLP', panels: [] }], machine, quick: false, seconds: 1 };
    const other: SavedResult = { ...r, id: 'maml', title: 'MAML', charts: [{ title: 'x', panels: [] }, { title: 'y', panels: [] }], machine: { ...machine, cpu: 'Other CPU' } };
    const md = renderMarkdown([r, other], 'bench/results');
    expect(md).to.include('Test CPU, 2 CPUs, metatask SIMD avx2').and.include('![MLP](bench/results/mlp.svg)').and.include('- a note');
    expect(md).to.include('![MAML](bench/results/maml-1.svg)').and.include('![MAML](bench/results/maml-2.svg)').and.include('_Measured on Other CPU');
    expect(md).not.to.include('mean nothing');
    // Another run on the same machine and day says its own conditions; the same run does not repeat them.
    const later: SavedResult = { ...r, id: 'later', title: 'Later', machine: { ...machine, date: '2099-01-01T09:00:00.000Z', loadAverage: 1.5 } };
    const sameDay = renderMarkdown([{ ...r, machine: { ...machine, date: '2099-01-01T08:00:00.000Z' } }, later, { ...later, id: 'later2' }], '');
    expect(sameDay.match(/_Measured on /g)).to.have.length(2);
    expect(sameDay).to.include('load average 1.5 at the start');
    expect(renderMarkdown([r, { ...r, id: 'again' }], '')).not.to.include('_Measured on ');
    expect(renderMarkdown([{ ...r, quick: true }], '')).to.include('mean nothing');
    // The cost of first writes to fresh memory beside the load average, where it was measured.
    expect(md).not.to.include('fresh memory');
    expect(renderMarkdown([{ ...r, machine: { ...machine, firstTouchMicros: 12.5 } }], '')).to.include('load average 0.1 at the start; a first write to fresh memory 12.5 us per 4 KiB');
  });
});

describe('npm run bench (end to end, smoke-test sizes)', function () {
  this.timeout(180_000);
  const run = join(packageRoot(), 'dist', 'bench', 'run.js');

  it('runs a workload, skips a missing peer with the line that installs it, and writes results with the machine, chart and report', () => {
    const out = mkdtempSync(join(tmpdir(), 'metatask-bench-'));
    try {
      const r = spawnSync(process.execPath, [run, '--quick', '--report', '--out', out, 'maml'], {
        encoding: 'utf8',
        env: { ...process.env, METATASK_BENCH_PYTHON: join(out, 'no-such-python') },
      });
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout).to.include('apt-get install python3-torch python3-sklearn');
      expect(r.stdout).to.include('| implementation | backend | SIMD | threads |');
      const saved = JSON.parse(readFileSync(join(out, 'maml.json'), 'utf8')) as SavedResult & { data: { rows: Record<string, Row[]> } };
      expect(saved.quick).to.equal(true);
      expect(saved.machine.cpu).to.be.a('string').and.not.empty;
      expect(saved.machine.cpus).to.be.greaterThan(0);
      expect(saved.machine.node).to.equal(process.version);
      expect(saved.machine.simd).to.be.a('string');
      expect(saved.machine.firstTouchMicros).to.be.a('number').greaterThan(0);
      expect(r.stdout).to.match(/a first write to fresh memory [\d.]+ us per 4 KiB/);
      const rows = [...saved.data.rows.second!, ...saved.data.rows.first!];
      const ran = rows.filter((x) => x.values?.length);
      expect(ran.length).to.be.greaterThan(0);
      for (const x of ran) {
        expect(x.threads).to.be.a('number').greaterThan(0);
        expect(x.simd).to.be.a('string').and.not.equal('-');
        expect(x.backend).to.be.oneOf(['native', 'TypeScript']);
        expect(x.cold).to.be.a('number').greaterThan(0);
      }
      // The 2-thread row really ran with 2 threads (setThreads in its own process), and two 1-thread
      // processes ran at once beside it, in a note and not in the table.
      if (ran.some((x) => x.backend === 'native')) {
        expect(ran.filter((x) => x.backend === 'native').map((x) => x.threads)).to.include(2);
        const pairs = (saved.data as unknown as { twoProcesses: Record<string, Row> }).twoProcesses;
        expect(pairs.second!.values!.length).to.be.greaterThan(0);
        expect(pairs.second!.resources).to.equal('two processes of 1 thread at once');
        expect(saved.notes.join('\n')).to.include('second order: metatask native, two 1-thread processes at the same time: together');
        expect(saved.table).not.to.include('two processes');
      }
      expect(rows.filter((x) => x.skipped).map((x) => x.skipped)).to.satisfy((s: string[]) => s.every((line) => line.includes('apt-get install python3-torch')));
      expect(readFileSync(join(out, 'maml.svg'), 'utf8')).to.match(/^<svg [^]*<\/svg>\n$/);
      expect(readFileSync(join(out, 'README.md'), 'utf8')).to.include('![MAML on sinusoids').and.include('mean nothing');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('omniglot-conv trains first-order MAML and tests it on the settings its network answers (5-way), with the curve', function () {
    // The Omniglot background set lives in the data folder next to this repository (CI has it).
    if (!existsSync(join(packageRoot(), '..', 'shared', 'data', 'omniglot', 'omniglot28_background.u8'))) this.skip();
    const out = mkdtempSync(join(tmpdir(), 'metatask-bench-'));
    try {
      const r = spawnSync(process.execPath, [run, '--quick', '--report', '--out', out, 'omniglot-conv', '--train', 'fomaml', '--no-speed', '--episodes', '4'], { encoding: 'utf8' });
      expect(r.status, r.stderr + r.stdout).to.equal(0);
      expect(r.stdout).to.not.include('failed');
      const saved = JSON.parse(readFileSync(join(out, 'omniglot-conv.json'), 'utf8')) as SavedResult;
      expect(saved.table).to.include('first-order MAML, 3 test steps').and.include('5-way 1-shot').and.include('5-way 5-shot');
      expect(saved.table).to.not.include('20-way');
      expect(saved.notes.join(' ')).to.include('tested 5-way only');
      // The accuracy-against-minutes curve: the start and at least one point after training.
      const curve = (saved.data as { training: { curve: { minutes: number; iterations: number }[] } }).training.curve;
      expect(curve.length).to.be.at.least(2);
      expect(curve[curve.length - 1]!.iterations).to.be.greaterThan(0);
      expect(readFileSync(join(out, 'omniglot-conv.svg'), 'utf8')).to.match(/^<svg [^]*<\/svg>\n$/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('refuses to write smoke-test figures into the committed report, and names an unknown workload', () => {
    const quick = spawnSync(process.execPath, [run, '--quick', '--report', 'maml'], { encoding: 'utf8' });
    expect(quick.status).to.equal(2);
    expect(quick.stderr).to.include('--out');
    const typo = spawnSync(process.execPath, [run, 'mpl'], { encoding: 'utf8' });
    expect(typo.status).to.equal(2);
    expect(typo.stderr).to.include("did you mean 'mlp'");
    for (const bad of ['0', '1.5', 'x', '21']) {
      const r = spawnSync(process.execPath, [run, '--rounds', bad, 'maml'], { encoding: 'utf8' });
      expect(r.status, bad).to.equal(2);
      expect(r.stderr).to.include('--rounds needs a whole number from 1 to 20');
    }
    expect(spawnSync(process.execPath, [run, '--help'], { encoding: 'utf8' }).stdout).to.include('--rounds <n>');
  });
});
