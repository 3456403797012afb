/**
 * MultiTaskDataset: validation at construction (each bad input names the task and row), split
 * within tasks, pooled standardisation, CSV loading, the shared-input form, and the packaged
 * School data against its CSV.
 */
import { expect } from 'chai';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ShapeError, ValueError } from '../lib/core/errors.js';
import { MultiTaskDataset } from '../lib/data/dataset.js';
import { parseCSV } from '../lib/data/csv.js';
import { datasets } from '../lib/data/school.js';
import { throwsWith } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'metatask-dataset-'));
// Removed when the file's tests end, also when one of them failed.
after(() => rmSync(tmp, { recursive: true, force: true }));

function small() {
  return new MultiTaskDataset([
    { name: 'a', X: [[1, 2], [3, 4], [5, 6], [7, 8]], y: [1, 2, 3, 4] },
    { name: 'b', X: [[0, 1], [2, 1], [4, 1]], y: [0, 1, 0], type: 'binary' },
  ]);
}

describe('MultiTaskDataset', () => {
  it('builds tasks with names, widths and types', () => {
    const d = small();
    expect(d.nTasks).to.equal(2);
    expect(d.nFeatures).to.equal(2);
    expect(d.nRows).to.equal(7);
    expect(d.names).to.deep.equal(['a', 'b']);
    expect(d.task('b').type).to.equal('binary');
    expect(Array.from(d.task('a').y)).to.deep.equal([1, 2, 3, 4]);
    expect(MultiTaskDataset.from(d.tasks).nTasks).to.equal(2);
  });

  describe('bad input', () => {
    it('duplicate task names', () => throwsWith(() => new MultiTaskDataset([{ name: 'a', X: [[1]], y: [1] }, { name: 'a', X: [[2]], y: [2] }]), ValueError, /duplicate task name 'a'/));
    it('tasks of different widths', () => throwsWith(() => new MultiTaskDataset([{ name: 'a', X: [[1, 2]], y: [1] }, { name: 'b', X: [[2]], y: [2] }]), ShapeError, /different widths/, /'b'/));
    it('a task with no rows', () => throwsWith(() => new MultiTaskDataset([{ name: 'a', X: [], y: [] }]), ValueError, /'a' has no rows/));
    it('an empty list of tasks', () => throwsWith(() => new MultiTaskDataset([]), ValueError, /at least one task/));
    it('NaN in X names task and row', () => throwsWith(() => new MultiTaskDataset([{ name: 'a', X: [[1], [NaN]], y: [1, 2] }]), ValueError, /task 'a'/, /row 1/));
    it('Infinity in y', () => throwsWith(() => new MultiTaskDataset([{ name: 'a', X: [[1], [2]], y: [1, Infinity] }]), ValueError, /task 'a'/, /non-finite/));
    it('ragged rows', () => throwsWith(() => new MultiTaskDataset([{ name: 'a', X: [[1, 2], [3]], y: [1, 2] }]), ShapeError, /ragged/, /row 1/));
    it('mismatched lengths', () => throwsWith(() => new MultiTaskDataset([{ name: 'a', X: [[1], [2]], y: [1] }]), ShapeError, /2 rows but y has 1/));
    it('bad binary label', () => throwsWith(() => new MultiTaskDataset([{ name: 'a', X: [[1], [2]], y: [0, 2], type: 'binary' }]), ValueError, /task 'a'/, /row 1/, /0 or 1/));
    it('bad type', () => throwsWith(() => new MultiTaskDataset([{ name: 'a', X: [[1]], y: [0], type: 'ordinal' as never }]), ValueError, /type/));
    it('missing name', () => throwsWith(() => new MultiTaskDataset([{ X: [[1]], y: [0] } as never]), ValueError, /name/));
    it('unknown task name lists the known ones', () => throwsWith(() => small().task('zz'), ValueError, /unknown task/, /'a', 'b'/));
  });

  it('split: within each task, seeded, every task keeps training rows', () => {
    const tasks = Array.from({ length: 5 }, (_, t) => ({
      name: `t${t}`,
      X: Array.from({ length: 4 + 3 * t }, (_, i) => [i, t]),
      y: Array.from({ length: 4 + 3 * t }, (_, i) => i),
    }));
    const d = new MultiTaskDataset([...tasks, { name: 'one', X: [[1, 1]], y: [1] }]);
    const s1 = d.split({ testFraction: 0.25, seed: 3 });
    const s2 = d.split({ testFraction: 0.25, seed: 3 });
    expect(s1.train.tasks.map((t) => Array.from(t.y))).to.deep.equal(s2.train.tasks.map((t) => Array.from(t.y)));
    for (const t of d.tasks) {
      const tr = s1.train.task(t.name);
      expect(tr.X.rows).to.be.at.least(1);
      if (t.name === 'one') {
        expect(s1.test.names).not.to.include('one');
        continue;
      }
      const te = s1.test.task(t.name);
      expect(tr.X.rows + te.X.rows).to.equal(t.X.rows);
      expect(te.X.rows).to.equal(Math.max(1, Math.round(0.25 * t.X.rows)));
      expect([...tr.y, ...te.y].sort((a, b) => a - b)).to.deep.equal(Array.from(t.y));
    }
    const s3 = d.split({ testFraction: 0.25, seed: 4 });
    expect(s3.test.tasks.map((t) => Array.from(t.y))).not.to.deep.equal(s1.test.tasks.map((t) => Array.from(t.y)));
    throwsWith(() => d.split({ testFraction: 1.5 }), ValueError, /testFraction/);
  });

  it('standardize: pooled mean 0 and sd 1, constant columns unchanged', () => {
    const d = new MultiTaskDataset([
      { name: 'a', X: [[1, 5, 1], [3, 6, 1]], y: [1, 2] },
      { name: 'b', X: [[5, 9, 1]], y: [3] },
    ]);
    const { dataset, scaler } = d.standardize();
    const all = dataset.tasks.flatMap((t) => Array.from({ length: t.X.rows }, (_, i) => Array.from(t.X.data.subarray(i * 3, i * 3 + 3))));
    for (let j = 0; j < 2; j++) {
      const col = all.map((r) => r[j]!);
      const m = col.reduce((a, b) => a + b, 0) / col.length;
      const v = col.reduce((a, b) => a + (b - m) ** 2, 0) / col.length;
      expect(m).to.be.closeTo(0, 1e-12);
      expect(v).to.be.closeTo(1, 1e-12);
    }
    expect(all.map((r) => r[2])).to.deep.equal([1, 1, 1]);
    expect(Array.from(scaler.transform([[3, 6, 1]]).data)).to.deep.equal(Array.from(dataset.task('a').X.data.subarray(3, 6)));
    throwsWith(() => scaler.transform([[1, 2]]), ShapeError, /2 columns/);
  });

  it('fromCSV groups rows by the task column', () => {
    const p = join(tmp, 'd.csv');
    writeFileSync(p, 'g,x1,x2,target\nu,1,2,3\nv,4,5,6\nu,7,8,9\n');
    const d = MultiTaskDataset.fromCSV(p, { taskColumn: 'g', target: 'target' });
    expect(d.names).to.deep.equal(['u', 'v']);
    expect(Array.from(d.task('u').X.data)).to.deep.equal([1, 2, 7, 8]);
    expect(Array.from(d.task('u').y)).to.deep.equal([3, 9]);
    const d2 = MultiTaskDataset.fromCSV(p, { taskColumn: 'g', target: 'target', features: ['x2'] });
    expect(d2.nFeatures).to.equal(1);
    throwsWith(() => MultiTaskDataset.fromCSV(p, { taskColumn: 'g', target: 'nope' }), ValueError, /'nope' is not in the header/);
    const bad = join(tmp, 'bad.csv');
    writeFileSync(bad, 'g,x1,target\nu,1,2\nu,abc,3\n');
    throwsWith(() => MultiTaskDataset.fromCSV(bad, { taskColumn: 'g', target: 'target' }), ValueError, /line 3/, /'x1'/, /abc/);
    writeFileSync(bad, 'g,x1,target\nu,1,2\nu,1\n');
    throwsWith(() => MultiTaskDataset.fromCSV(bad, { taskColumn: 'g', target: 'target' }), ValueError, /line 3/, /2 cells/);
    throwsWith(() => MultiTaskDataset.fromCSV(join(tmp, 'missing.csv'), { taskColumn: 'g', target: 't' }), ValueError, /cannot read/);
    throwsWith(() => parseCSV(''), ValueError, /empty/);
  });

  it('fromShared drops missing labels per task and keeps the shared form', () => {
    const X = [[1, 0], [0, 1], [1, 1]];
    const Y = [[1.5, 0], [NaN, -1], [2.5, 1]];
    const d = MultiTaskDataset.fromShared(X, Y, { names: ['r', 'c'], types: ['regression', 'binary'] });
    expect(d.task('r').X.rows).to.equal(2);
    expect(Array.from(d.task('r').y)).to.deep.equal([1.5, 2.5]);
    expect(Array.from(d.task('c').y)).to.deep.equal([0, 1]);
    expect(d.shared!.X.rows).to.equal(3);
    expect(Number.isNaN(d.shared!.Y.data[2])).to.equal(true);
    throwsWith(() => MultiTaskDataset.fromShared(X, [[NaN], [NaN], [NaN]], { names: ['r'] }), ValueError, /'r' has no rows/);
    throwsWith(() => MultiTaskDataset.fromShared(X, Y, { names: ['r'] }), ShapeError, /2 columns/);
    throwsWith(() => MultiTaskDataset.fromShared(X, [[1], [2]], { names: ['r'] }), ShapeError, /3 rows but Y has 2/);
    const s = d.split({ testFraction: 0.34, seed: 1 });
    expect(s.train.shared!.X.rows + s.test.shared!.X.rows).to.equal(3);
  });
});

describe('datasets.school()', () => {
  const data = datasets.school();
  it('has 139 schools, 28 features, 15,362 students', () => {
    expect(data.nTasks).to.equal(139);
    expect(data.nFeatures).to.equal(28);
    expect(data.nRows).to.equal(15362);
    expect(data.names[0]).to.equal('school-0');
    expect(data.names[138]).to.equal('school-138');
    for (const t of data.tasks) {
      expect(t.X.rows).to.be.within(22, 251);
      for (let i = 0; i < t.X.rows; i++) expect(t.X.data[i * 28 + 27]).to.equal(1);
    }
  });
  // The CSV in the data folder next to this repository (CI has it).
  const csv = join(process.cwd(), '..', 'shared', 'data', 'school', 'school.csv');
  it('equals the CSV it was packed from', function () {
    if (!existsSync(csv)) this.skip();
    const ref = MultiTaskDataset.fromCSV(csv, { taskColumn: 'task', target: 'score' });
    expect(ref.nTasks).to.equal(139);
    for (const t of ref.tasks) {
      const s = data.task(`school-${t.name}`);
      expect(Array.from(s.y)).to.deep.equal(Array.from(t.y));
      expect(Array.from(s.X.data)).to.deep.equal(Array.from(t.X.data));
    }
  });
});
