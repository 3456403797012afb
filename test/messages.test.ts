/**
 * Error messages: what was wrong, where, and what was expected, with "did you mean" wherever a
 * name is chosen from a list (options, strategies, architectures, task types, task names,
 * activations, losses, backends), and the messages that once said too little or the wrong thing.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  AbortError,
  ConfigError,
  FewShotTasks,
  L21Regression,
  MAML,
  MultiTaskDataset,
  MultiTaskLasso,
  MultiTaskNet,
  ProtoNet,
  TaskSplit,
  ValueError,
  compileNetwork,
  createOptimizer,
  datasets,
  setBackend,
} from '../lib/index.js';
import { abortError, throwIfAborted } from '../lib/core/async.js';
import { describe as describeValue } from '../lib/core/matrix.js';
import { closestName, didYouMean, listKnown, unknownName } from '../lib/core/suggest.js';
import { throwsWith } from './helpers.js';

const X = [[1, 2], [3, 4], [5, 6]];
const Y = [[1, 2], [3, 4], [5, 7]];

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

describe('suggestions', () => {
  it('closestName offers a near name only', () => {
    expect(closestName('pcgard', ['equal', 'pcgrad', 'mgda'])).to.equal('pcgrad');
    expect(closestName('EPOCHS', ['epochs', 'batchSize'])).to.equal('epochs');
    expect(closestName('zzzzzz', ['equal', 'pcgrad'])).to.equal(undefined);
    expect(didYouMean('hard-shring', ['hard-sharing', 'mmoe'])).to.equal(" (did you mean 'hard-sharing'?)");
    expect(didYouMean('mmoe', ['hard-sharing', 'mmoe'])).to.equal('');
    expect(didYouMean(3, ['a'])).to.equal('');
  });

  it('unknownName: where, the value in quotes, the hint and the known names', () => {
    expect(unknownName('weighting', 'strategy', 'pcgard', ['equal', 'pcgrad'], 'strategies')).to.equal(
      "weighting: unknown strategy 'pcgard' (did you mean 'pcgrad'?); known strategies: 'equal', 'pcgrad'",
    );
    expect(unknownName('x', 'task', 7, ['a'])).to.equal('x: unknown task number 7; known tasks: \'a\'');
    const many = Array.from({ length: 30 }, (_, i) => `school-${i}`);
    expect(listKnown(many)).to.match(/^'school-0', .*'school-9', \.\.\. \(30 in all\)$/);
  });

  it('describe(undefined) says undefined once', () => {
    expect(describeValue(undefined)).to.equal('undefined');
  });
});

describe('messages', function () {
  this.timeout(30_000);

  it('a per-task model called like a shared-X one says what it takes', async () => {
    const e1 = await rejection(new L21Regression().fit(X as never, Y as never));
    expect(e1).to.be.instanceOf(ValueError);
    expect(e1.message).to.match(/L21Regression\.fit\(data, options\): the second argument is options/);
    expect(e1.message).to.match(/MultiTaskDataset\.fromShared\(X, Y/);
    expect(e1.message).not.to.match(/unknown option '0'/);
    const e2 = await rejection(new L21Regression().fit(X as never));
    expect(e2).to.be.instanceOf(ValueError);
    expect(e2.message).to.match(/got a matrix \(an array of rows\)/);
    expect(e2.message).not.to.match(/undefined undefined/);
  });

  it('a shared-X model given a dataset, or no Y, says what it takes', async () => {
    const ds = new MultiTaskDataset([{ name: 'a', X, y: [1, 2, 3] }]);
    const e1 = await rejection(new MultiTaskLasso().fit(ds as never, undefined as never));
    expect(e1).to.be.instanceOf(ValueError);
    expect(e1.message).to.match(/takes one shared X .* got a dataset of tasks.*L21Regression/);
    const e2 = await rejection(new MultiTaskLasso().fit(X, undefined as never));
    expect(e2.message).to.match(/Y is missing/);
    expect(e2.message).not.to.match(/undefined undefined/);
  });

  it('an aborted fit says so once, with a timeout or the caller\'s reason when there is one', async () => {
    const ac = new AbortController();
    ac.abort();
    const e = await rejection(new MultiTaskLasso().fit(X, Y, { signal: ac.signal }));
    expect(e).to.be.instanceOf(AbortError);
    expect(e.message).to.equal('The operation was aborted');
    expect(abortError(new Error('shutting down')).message).to.equal('The operation was aborted: shutting down');
    expect(abortError('user left').message).to.equal('The operation was aborted: user left');
    const t = AbortSignal.timeout(0);
    await new Promise((r) => setTimeout(r, 5));
    expect(() => throwIfAborted(t)).to.throw(AbortError, /^The operation was aborted: the signal timed out$/);
    expect(abortError('x').cause).to.equal('x');
  });

  it('MultiTaskNet: names in lists get "did you mean", and a diverged loss names its task', async () => {
    const tasks = [{ name: 'score', type: 'regression' as const }];
    throwsWith(() => new MultiTaskNet({ inputSize: 2, tasks, weighting: 'pcgard' }), ConfigError, /unknown strategy 'pcgard' \(did you mean 'pcgrad'\?\)/);
    throwsWith(() => new MultiTaskNet({ inputSize: 2, tasks, weighting: { type: 'uncertainy' } }), ConfigError, /did you mean 'uncertainty'/);
    throwsWith(() => new MultiTaskNet({ inputSize: 2, tasks, architecture: 'hard-shring' as never }), ConfigError, /unknown type 'hard-shring' \(did you mean 'hard-sharing'\?\)/);
    throwsWith(() => new MultiTaskNet({ inputSize: 2, tasks: [{ name: 'a', type: 'regresion' as never }] }), ConfigError, /did you mean 'regression'/);
    throwsWith(() => new MultiTaskNet({ inputSize: 2, tasks, architecture: { type: 'mmoe', expert: 2 } as never }), ConfigError, /unknown option 'expert' for 'mmoe' \(did you mean 'experts'\?\)/);
    const net = new MultiTaskNet({ inputSize: 2, tasks, seed: 1 });
    const e = await rejection(net.fit({ X, Y: [[1], [2], [3]] }, { epoch: 3 } as never));
    expect(e.message).to.match(/unknown option 'epoch' \(did you mean 'epochs'\?\)/);
    const other = new MultiTaskDataset([{ name: 'scor', X, y: [1, 2, 3] }]);
    const e2 = await rejection(net.fit(other));
    expect(e2.message).to.match(/task 'scor', which the network does not have \(did you mean 'score'\?\)/);
    // Targets of 1e200: their squared error overflows, the loss is infinite, and the message says whose.
    const wide = new MultiTaskNet({ inputSize: 2, tasks, seed: 1, dtype: 'float64' });
    const e3 = await rejection(wide.fit({ X, Y: [[1e200], [1e200], [1e200]] }, { epochs: 1 }));
    expect(e3).to.be.instanceOf(ValueError);
    expect(e3.message).to.match(/the loss of task 'score' became Infinity/);
  });

  it('task names, dataset types and CSV columns get "did you mean"', async () => {
    const m = await new L21Regression().fit([{ name: 'school-1', X, y: [1, 2, 3] }]);
    throwsWith(() => m.predict('school-l', X), ValueError, /unknown task 'school-l' \(did you mean 'school-1'\?\); known tasks: 'school-1'/);
    throwsWith(() => new MultiTaskDataset([{ name: 'a', X, y: [1, 2, 3], type: 'regresion' as never }]), ValueError, /did you mean 'regression'/);
    const school = datasets.school();
    throwsWith(() => school.task('school-1000'), ValueError, /unknown task 'school-1000' \(did you mean 'school-100'\?\)/);
    throwsWith(() => new TaskSplit(school, { shots: 3, tasks: ['school-l'] }), ValueError, /unknown task 'school-l' \(did you mean 'school-\d'\?\)/);
    throwsWith(() => new TaskSplit(school, { shots: 3 }).sampleFrom('school-1000'), ValueError, /no task named 'school-1000' .*did you mean 'school-100'/);
    const dir = mkdtempSync(join(tmpdir(), 'metatask-msg-'));
    try {
      const path = join(dir, 'data.csv');
      writeFileSync(path, 'school,score,x1\na,1,2\na,2,3\nb,3,4\n');
      throwsWith(() => MultiTaskDataset.fromCSV(path, { taskColumn: 'school', target: 'scor' }), ValueError, /column 'scor' is not in the header \(did you mean 'score'\?\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('losses, activations, ops, optimisers, schedules and backends get "did you mean"', () => {
    throwsWith(() => new MAML({ network: { inputSize: 1, hidden: [4], activation: 'rlu' as never } }), ConfigError, /did you mean 'relu'/);
    throwsWith(() => new MAML({ network: { inputSize: 1, hidden: [4], activaton: 'relu' } as never }), ConfigError, /unknown network option 'activaton' \(did you mean 'activation'\?\)/);
    throwsWith(() => new MAML({ network: { inputSize: 1, hidden: [4] }, loss: 'mes' as never }), ConfigError, /did you mean 'mse'/);
    throwsWith(() => new ProtoNet({ network: { inputSize: 1, hidden: [4], outputSize: 2 }, distance: 'cosin' as never }), ConfigError, /did you mean 'cosine'/);
    throwsWith(() => compileNetwork({ nodes: [{ op: 'input', size: 2 }, { op: 'dens', input: 0, units: 1 } as never], heads: [{ node: 1, loss: 'mse', target: 0 }] }), ConfigError, /unknown op 'dens'|unknown op the string "dens"/, /did you mean 'dense'/);
    throwsWith(() => createOptimizer({ type: 'adma' as never, lr: 1 }), ConfigError, /did you mean 'adam'/);
    throwsWith(() => createOptimizer({ type: 'adam', lr: 1, schedule: { type: 'cosin' } as never }), ConfigError, /unknown type 'cosin' \(did you mean 'cosine'\?\)/);
    throwsWith(() => setBackend('natve' as never), ConfigError, /did you mean 'native'/);
    throwsWith(() => new FewShotTasks({ X, labels: [0, 1, 1] }, { ways: 2, shots: 1, querys: 1 } as never), ConfigError, /did you mean 'queries'/);
  });
});
