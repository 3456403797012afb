/**
 * FewShotTasks (N-way K-shot episodes, class splits, rotations) and datasets.omniglot (the .u8 +
 * .json reader): label remapping, disjoint support/query, determinism by seed, rotated classes,
 * errors; the loader on a tiny synthetic pair and, when present, on the real file (shapes only).
 */
import { expect } from 'chai';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ConfigError, FormatError, ShapeError, ValueError } from '../lib/core/errors.js';
import { Rng } from '../lib/core/rng.js';
import { omniglot } from '../lib/data/omniglot.js';
import { MultiTaskDataset } from '../lib/data/dataset.js';
import { packageRoot } from '../lib/kernels/native.js';
import { FewShotTasks, rotateSquare, splitClasses } from '../lib/meta/fewShot.js';

/** `classes` classes of `per` rows; every row is unique and encodes (class, example) in its values. */
function toyData(classes: number, per: number, side = 3): { X: { rows: number; cols: number; data: Float64Array }; labels: number[] } {
  const d = side * side;
  const X = new Float64Array(classes * per * d);
  const labels: number[] = [];
  for (let c = 0; c < classes; c++) {
    for (let e = 0; e < per; e++) {
      const r = c * per + e;
      labels.push(100 + c); // labels that are not 0..C-1, to see the remapping
      for (let j = 0; j < d; j++) X[r * d + j] = c * 1000 + e * 10 + j / 100;
    }
  }
  return { X: { rows: classes * per, cols: d, data: X }, labels };
}

const rowKey = (X: { cols: number; data: Float64Array }, i: number) => Array.from(X.data.subarray(i * X.cols, (i + 1) * X.cols)).join(',');
/** The class of a toyData row (its first value encodes it; rotations keep the set of values). */
const classOf = (X: { cols: number; data: Float64Array }, i: number) => Math.floor(Math.min(...X.data.subarray(i * X.cols, (i + 1) * X.cols)) / 1000);

describe('FewShotTasks', () => {
  it('draws N-way K-shot episodes with labels 0..N-1, class-major, support and query disjoint', () => {
    const data = toyData(10, 8);
    const s = new FewShotTasks(data, { ways: 5, shots: 2, queries: 3, seed: 1 });
    expect(s.inputSize).to.equal(9);
    expect(s.classCount).to.equal(10);
    for (let t = 0; t < 20; t++) {
      const task = s.sample();
      expect(task.support.X.rows).to.equal(10);
      expect(task.query.X.rows).to.equal(15);
      expect(Array.from(task.support.y)).to.deep.equal([0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
      expect(Array.from(task.query.y)).to.deep.equal([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]);
      // Every label k maps to one original class, and the 5 classes are distinct.
      const cls = new Map<number, number>();
      for (const set of [task.support, task.query]) {
        for (let i = 0; i < set.y.length; i++) {
          const c = classOf(set.X, i);
          const k = set.y[i]!;
          if (cls.has(k)) expect(cls.get(k)).to.equal(c);
          else cls.set(k, c);
        }
      }
      expect(new Set(cls.values()).size).to.equal(5);
      expect(String(task.info?.classes).split(',').map(Number)).to.deep.equal([...cls.values()].map((c) => 100 + c));
      // No row is both support and query, nor repeated.
      const keys = [...Array(10).keys()].map((i) => rowKey(task.support.X, i)).concat([...Array(15).keys()].map((i) => rowKey(task.query.X, i)));
      expect(new Set(keys).size).to.equal(25);
    }
  });

  it('the remapping is random: label 0 is not always the same class', () => {
    const s = new FewShotTasks(toyData(10, 4), { ways: 3, shots: 1, queries: 1, seed: 3 });
    const first = new Set<number>();
    for (let t = 0; t < 30; t++) first.add(classOf(s.sample().support.X, 0));
    expect(first.size).to.be.greaterThan(3);
  });

  it('is deterministic by seed; reset() replays; fork() and other seeds differ', () => {
    const data = toyData(12, 6);
    const a = new FewShotTasks(data, { ways: 4, shots: 1, queries: 2, seed: 7 });
    const b = new FewShotTasks(data, { ways: 4, shots: 1, queries: 2, seed: 7 });
    const c = new FewShotTasks(data, { ways: 4, shots: 1, queries: 2, seed: 8 });
    const ta = a.sampleBatch(5);
    const tb = b.sampleBatch(5);
    expect(ta.map((t) => Array.from(t.query.X.data))).to.deep.equal(tb.map((t) => Array.from(t.query.X.data)));
    expect(Array.from(c.sample().query.X.data)).to.not.deep.equal(Array.from(ta[0]!.query.X.data));
    a.reset();
    expect(Array.from(a.sample().support.X.data)).to.deep.equal(Array.from(ta[0]!.support.X.data));
    const f = a.fork(8);
    expect(Array.from(f.sample().support.X.data)).to.deep.equal(Array.from(new FewShotTasks(data, { ways: 4, shots: 1, queries: 2, seed: 8 }).sample().support.X.data));
  });

  it('restricts episodes to the given classes; splitClasses gives disjoint class sets', () => {
    const data = toyData(20, 5);
    const split = splitClasses(data.labels, { trainFraction: 0.75, seed: 4 });
    expect(split.train.length).to.equal(15);
    expect(split.test.length).to.equal(5);
    expect(new Set([...split.train, ...split.test]).size).to.equal(20);
    expect(splitClasses(data.labels, { trainFraction: 0.75, seed: 4 })).to.deep.equal(split);
    const train = new FewShotTasks(data, { ways: 5, shots: 1, queries: 4, seed: 1, classes: split.train });
    const test = train.with({ classes: split.test });
    const seen = (s: FewShotTasks) => {
      const out = new Set<number>();
      for (let t = 0; t < 40; t++) {
        const task = s.sample();
        for (let i = 0; i < task.query.y.length; i++) out.add(100 + classOf(task.query.X, i));
      }
      return out;
    };
    expect([...seen(train)].every((c) => split.train.includes(c))).to.equal(true);
    expect([...seen(test)].sort()).to.deep.equal(split.test);
    const three = splitClasses(data.labels, { counts: { train: 10, validation: 4, test: 6 }, seed: 1 });
    expect([three.train.length, three.validation!.length, three.test.length]).to.deep.equal([10, 4, 6]);
    expect(new Set([...three.train, ...three.validation!, ...three.test]).size).to.equal(20);
  });

  it('rotations make distinct classes: every example of a class gets the same rotation', () => {
    const data = toyData(3, 6); // 3 classes x 4 rotations = 12 classes
    const s = new FewShotTasks(data, { ways: 12, shots: 2, queries: 2, seed: 5, rotations: true });
    expect(s.classCount).to.equal(12);
    const task = s.sample();
    const names = String(task.info!.classes).split(',');
    expect(new Set(names).size).to.equal(12);
    // Recover the rotation of each row by matching it against the rotations of its source row.
    const src = data.X;
    const findAngle = (X: { cols: number; data: Float64Array }, i: number): number => {
      const row = X.data.subarray(i * 9, (i + 1) * 9);
      for (let r = 0; r < src.rows; r++) {
        for (const a of [0, 90, 180, 270]) {
          const out = new Float64Array(9);
          rotateSquare(src.data.subarray(r * 9, (r + 1) * 9), 3, a, out);
          if (out.every((v, j) => v === row[j])) return a;
        }
      }
      return -1;
    };
    const angleOfLabel = new Map<number, number>();
    for (const set of [task.support, task.query]) {
      for (let i = 0; i < set.y.length; i++) {
        const a = findAngle(set.X, i);
        expect(a).to.be.at.least(0);
        const k = set.y[i]!;
        if (angleOfLabel.has(k)) expect(angleOfLabel.get(k)).to.equal(a);
        else angleOfLabel.set(k, a);
        expect(names[k]!.endsWith(a ? `@${a}` : String(100 + classOf(set.X, i)))).to.equal(true);
      }
    }
    expect(new Set(angleOfLabel.values()).size).to.equal(4);
  });

  it('rotateSquare follows numpy.rot90 (counter-clockwise)', () => {
    const img = [1, 2, 3, 4]; // [[1, 2], [3, 4]]
    const out = new Float64Array(4);
    rotateSquare(img, 2, 90, out);
    expect(Array.from(out)).to.deep.equal([2, 4, 1, 3]);
    rotateSquare(img, 2, 180, out);
    expect(Array.from(out)).to.deep.equal([4, 3, 2, 1]);
    rotateSquare(img, 2, 270, out);
    expect(Array.from(out)).to.deep.equal([3, 1, 4, 2]);
  });

  it('reads a classification task of a MultiTaskDataset and skips missing labels', () => {
    const rng = new Rng(1);
    const X = Array.from({ length: 30 }, () => [rng.normal(), rng.normal()]);
    const y = Array.from({ length: 30 }, (_, i) => i % 3);
    const data = new MultiTaskDataset([{ name: 'c', X, y, type: 'multiclass' }]);
    const s = new FewShotTasks(data.tasks[0]!, { ways: 3, shots: 2, queries: 3, seed: 0 });
    expect(s.sample().support.X.cols).to.equal(2);
    const withMissing = new FewShotTasks({ X, labels: y.map((v, i) => (i < 3 ? -1 : v)) }, { ways: 3, shots: 2, queries: 1 });
    expect(withMissing.classCount).to.equal(3);
    const reg = new MultiTaskDataset([{ name: 'r', X, y: y.map(Number), type: 'regression' }]);
    expect(() => new FewShotTasks(reg.tasks[0]!, { ways: 2, shots: 1 })).to.throw(ValueError, /regression/);
  });

  it('gives clear errors', () => {
    const data = toyData(4, 5);
    expect(() => new FewShotTasks(data, { ways: 5, shots: 1, queries: 1 })).to.throw(ValueError, /5-way episodes need at least 5 classes; the data offers 4/);
    expect(() => new FewShotTasks(data, { ways: 2, shots: 3, queries: 3 })).to.throw(ValueError, /class 100 has 5 examples; an episode needs shots \+ queries = 3 \+ 3 = 6/);
    expect(() => new FewShotTasks(data, { ways: 2, shots: 1, queries: 1, classes: [100, 7] })).to.throw(ValueError, /no examples, e.g. 7/);
    expect(() => new FewShotTasks({ X: [[1, 2], [3, 4]], labels: [0, 1] }, { ways: 2, shots: 1, queries: 0 })).to.throw(ConfigError, /queries/);
    expect(() => new FewShotTasks({ X: [[1, 2], [3, 4]], labels: [0] }, { ways: 2, shots: 1 })).to.throw(ShapeError, /1 labels, X has 2 rows/);
    expect(() => new FewShotTasks({ X: [[1, 2], [3, 4]], labels: [0, 1.5] }, { ways: 2, shots: 1 })).to.throw(ValueError, /integers/);
    expect(() => new FewShotTasks({ X: [[1, 2, 3], [3, 4, 5]], labels: [0, 1] }, { ways: 2, shots: 1, queries: 0 } as never)).to.throw(ConfigError);
    expect(() => new FewShotTasks({ X: [[1, 2, 3], [3, 4, 5]], labels: [0, 1] }, { ways: 2, shots: 1, rotations: true } as never)).to.throw(ShapeError, /square/);
    expect(() => new FewShotTasks(data, { ways: 2, shots: 1, rotations: [45] } as never)).to.throw(ConfigError, /angles/);
    expect(() => new FewShotTasks(data, { shots: 1 } as never)).to.throw(ConfigError, /'ways' is required/);
    expect(() => new FewShotTasks(data, { ways: 2, shots: 1, shot: 2 } as never)).to.throw(ConfigError, /did you mean 'shots'/);
    expect(() => new FewShotTasks(null as never, { ways: 2, shots: 1 })).to.throw(ShapeError);
    expect(() => splitClasses(data.labels, { seed: 1 })).to.throw(ConfigError, /exactly one/);
    expect(() => splitClasses(data.labels, { counts: { train: 3, test: 3 } })).to.throw(ValueError, /only 4/);
  });
});

describe('datasets.omniglot', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'metatask-omniglot-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** n images of 2 x 2 with bytes i*10 + j, and an index of the given shape. */
  function writePair(name: string, n: number, index: (images: unknown[]) => unknown, bytes = n * 4): string {
    const u8 = Buffer.alloc(bytes);
    for (let k = 0; k < bytes; k++) u8[k] = (Math.floor(k / 4) * 10 + (k % 4)) % 256;
    const images = Array.from({ length: n }, (_, i) => [i < 2 ? 'Alpha' : 'Beta', `character0${1 + (i >> 1)}`, 1 + (i % 2), 5 + (i >> 1)]);
    writeFileSync(join(dir, `${name}.u8`), u8);
    writeFileSync(join(dir, `${name}.json`), JSON.stringify(index(images)));
    return join(dir, `${name}.u8`);
  }

  it('reads a tiny synthetic pair: ink = 1 - byte / 255, labels = charId, alphabet and drawer', () => {
    const file = writePair('tiny', 4, (images) => ({ count: 4, height: 2, width: 2, images }));
    const d = omniglot(file);
    expect([d.X.rows, d.X.cols, d.height, d.width]).to.deep.equal([4, 4, 2, 2]);
    expect(d.X.data).to.be.instanceOf(Float32Array);
    expect(d.X.data[0]).to.equal(1);
    expect(d.X.data[5]).to.be.closeTo(1 - 11 / 255, 1e-7);
    expect(Array.from(d.labels)).to.deep.equal([5, 5, 6, 6]);
    expect(d.alphabet).to.deep.equal(['Alpha', 'Alpha', 'Beta', 'Beta']);
    expect(d.alphabets).to.deep.equal(['Alpha', 'Beta']);
    expect(Array.from(d.drawer)).to.deep.equal([1, 2, 1, 2]);
    expect(d.character[3]).to.equal('character02');
    // The .json path works too, and episodes can be drawn from it.
    expect(omniglot(join(dir, 'tiny.json')).X.rows).to.equal(4);
    const s = new FewShotTasks(d, { ways: 2, shots: 1, queries: 1, seed: 0, rotations: true });
    expect(s.classCount).to.equal(8);
  });

  it('a bare array index means 28 x 28 images', () => {
    const file = writePair('bare', 2, (images) => images, 2 * 784);
    expect(omniglot(file).X.cols).to.equal(784);
  });

  it('sizes that disagree, missing files and bad entries are FormatErrors', () => {
    expect(() => omniglot(writePair('short', 4, (images) => ({ height: 2, width: 2, images }), 15))).to.throw(FormatError, /15 bytes; the index lists 4 images of 2 x 2 = 16 bytes/);
    expect(() => omniglot(writePair('count', 4, (images) => ({ count: 5, height: 2, width: 2, images })))).to.throw(FormatError, /count = 5 but lists 4/);
    expect(() => omniglot(writePair('entry', 2, (images) => ({ height: 2, width: 2, images: [images[0], ['x', 1]] })))).to.throw(FormatError, /image 1 must be/);
    expect(() => omniglot(join(dir, 'nothing.u8'))).to.throw(FormatError, /not found/);
    writeFileSync(join(dir, 'lonely.u8'), Buffer.alloc(4));
    expect(() => omniglot(join(dir, 'lonely.u8'))).to.throw(FormatError, /index file .* not found/);
    writeFileSync(join(dir, 'broken.u8'), Buffer.alloc(4));
    writeFileSync(join(dir, 'broken.json'), '{ nope');
    expect(() => omniglot(join(dir, 'broken.u8'))).to.throw(FormatError, /not valid JSON/);
  });

  it('the real background set, when present: shapes only', function () {
    // In the data folder next to this repository (CI has it).
    const file = join(packageRoot(), '..', 'shared', 'data', 'omniglot', 'omniglot28_background.u8');
    if (!existsSync(file)) this.skip();
    this.timeout(30_000);
    const d = omniglot(file);
    expect([d.X.rows, d.X.cols]).to.deep.equal([19280, 784]);
    expect(new Set(d.labels).size).to.equal(964);
    expect(d.alphabets.length).to.equal(30);
    let min = Infinity;
    let max = -Infinity;
    for (const v of d.X.data) [min, max] = [Math.min(min, v), Math.max(max, v)];
    expect(min).to.be.at.least(0);
    expect(max).to.be.at.most(1);
  });
});
