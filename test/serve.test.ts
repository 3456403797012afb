/**
 * The example prediction service (examples/serve/): predictions equal the models' own, with the
 * models on the event loop and on a WorkerPool; bad input is a 400 carrying the library's message
 * and code; malformed JSON, a wrong content type and an unknown route get their own answers.
 */
import { expect } from 'chai';
import type { AddressInfo } from 'node:net';

import { MAML, MultiTaskNet, SinusoidTasks, WorkerPool } from '../lib/index.js';
import { createService } from '../examples/serve/server.js';

async function post(url: string, body: unknown, type = 'application/json'): Promise<{ status: number; json: any }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': type }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

describe('the example prediction service', function () {
  this.timeout(60_000);
  const net = new MultiTaskNet({ inputSize: 3, tasks: [{ name: 'a', type: 'regression' }, { name: 'b', type: 'binary' }], architecture: { type: 'hard-sharing', shared: [8] }, seed: 1 });
  const learner = new MAML({ network: { inputSize: 1, hidden: [8], outputSize: 1 }, metaBatchSize: 4, seed: 1 });
  const X = [[0.1, 0.2, 0.3], [1, -1, 0.5]];
  const support = { X: [[-1], [0], [1]], y: [0.5, 0, -0.5] };
  let pool: WorkerPool;

  before(async () => {
    await net.fit({ X: [...X, [0, 0, 1]], Y: [[1, 0], [2, 1], [0, 1]] }, { epochs: 2 });
    await learner.fit(new SinusoidTasks({ shots: 3, seed: 2 }), { iterations: 3 });
    pool = new WorkerPool({ size: 1 });
  });
  after(async () => {
    await pool.terminate();
  });

  for (const onPool of [false, true]) {
    it(`answers with the models' predictions, and 400 with the library's message for bad input (${onPool ? 'on a WorkerPool' : 'on the event loop'})`, async () => {
      const server = createService({ net, learner, ...(onPool ? { pool } : {}) }).listen(0, '127.0.0.1');
      await new Promise((r) => server.once('listening', r));
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      try {
        const p = await post(`${base}/v1/net/predict`, { X });
        expect(p.status).to.equal(200);
        const local = net.predict(X);
        expect(p.json.predictions).to.deep.equal({ a: Array.from(local.a), b: Array.from(local.b) });
        const m = await post(`${base}/v1/meta/predict`, { support, X: [[0.5]], steps: 2 });
        expect(m.status).to.equal(200);
        expect(m.json.predictions).to.deep.equal(Array.from(learner.adapt(support, { steps: 2 }).predict([[0.5]])));

        const wide = await post(`${base}/v1/net/predict`, { X: [[1, 2]] });
        expect(wide.status).to.equal(400);
        expect(wide.json.error.code).to.equal('ERR_SHAPE');
        expect(wide.json.error.message).to.match(/X has 2 columns.*inputSize 3/);
        const badSupport = await post(`${base}/v1/meta/predict`, { support: { X: [[1]], y: [1, 2] }, X: [[0]] });
        expect(badSupport.status).to.equal(400);
        expect(badSupport.json.error.message).to.match(/y has 2 values, X has 1 rows/);
        const steps = await post(`${base}/v1/meta/predict`, { support, X: [[0]], steps: -1 });
        expect(steps.status).to.equal(400);
        expect(steps.json.error.code).to.equal('ERR_CONFIG');

        expect((await post(`${base}/v1/net/predict`, '{"X": [[1, 2')).json.error.code).to.equal('ERR_JSON');
        expect((await post(`${base}/v1/net/predict`, 'X=1', 'text/plain')).status).to.equal(415);
        expect((await post(`${base}/v1/nope`, {})).status).to.equal(404);
        const health = await (await fetch(`${base}/health`)).json();
        expect(health.ok).to.equal(true);
      } finally {
        await new Promise((r) => server.close(r));
      }
    });
  }
});
