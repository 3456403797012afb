/**
 * METATASK_HUGE_PAGES: off by default, so that no memory of the process is marked for transparent
 * huge pages; 'on' marks the native kernels' large buffers (a product's packing panel) and the
 * buffer lease's new buffers (a fit's), which Linux reports as the "hg" flag of their mappings in
 * /proc/self/smaps; any other value is a ConfigError. Each case runs in a fresh process, since the
 * setting is read when the native backend loads.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';

import { availableBackends } from '../lib/kernels/index.js';

interface Marked {
  hugePages: boolean;
  /** KiB of the process's mappings marked for huge pages: before any kernel, after a product, after a fit. */
  before: number;
  afterProduct: number;
  afterFit: number;
}

const index = new URL('../lib/kernels/index.js', import.meta.url).href;
const model = new URL('../lib/linear/multiTaskElasticNet.js', import.meta.url).href;

/** A 300 x 300 product on the native kernels, then a multi-task lasso fit (1000 x 400 x 5), with `env`. */
function markedWith(env: NodeJS.ProcessEnv): { status: number | null; stdout: string; stderr: string } {
  const script = `
    import { readFileSync } from 'node:fs';
    const { backend, kernels } = await import(${JSON.stringify(index)});
    const { MultiTaskLasso } = await import(${JSON.stringify(model)});
    const marked = () => {
      let kib = 0, size = 0;
      for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\\n')) {
        if (line.startsWith('Size:')) size = parseInt(line.slice(5), 10);
        else if (line.startsWith('VmFlags:') && / hg( |$)/.test(line)) kib += size;
      }
      return kib;
    };
    const m = (r, c, f) => ({ rows: r, cols: c, data: Float64Array.from({ length: r * c }, (_, i) => f(i)) });
    const before = marked();
    const b = m(300, 300, (i) => ((i * 37) % 11) - 5);
    kernels().gemm(b, b, m(300, 300, () => 0));
    const afterProduct = marked();
    new MultiTaskLasso({ alpha: 0.01 }).fitSync(m(1000, 400, (i) => Math.sin(i)), m(1000, 5, (i) => Math.cos(i)));
    console.log(JSON.stringify({ hugePages: backend().hugePages, before, afterProduct, afterFit: marked() }));
  `;
  return spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, METATASK_BACKEND: 'native', ...env }, encoding: 'utf8' });
}

function marked(env: NodeJS.ProcessEnv): Marked {
  const run = markedWith(env);
  expect(run.status, run.stderr).to.equal(0);
  return JSON.parse(run.stdout) as Marked;
}

describe('METATASK_HUGE_PAGES', function () {
  this.timeout(60_000);
  before(function () {
    // Transparent huge pages and smaps are Linux's.
    if (!availableBackends().includes('native') || process.platform !== 'linux') this.skip();
  });

  it('is off when unset or off: the native backend marks no memory for huge pages', () => {
    for (const env of [{ METATASK_HUGE_PAGES: undefined }, { METATASK_HUGE_PAGES: 'off' }]) {
      const m = marked(env);
      expect(m.hugePages).to.equal(false);
      expect([m.before, m.afterProduct, m.afterFit]).to.deep.equal([0, 0, 0]);
    }
  });

  it("'on' marks the kernels' packing buffers and a fit's new buffers", () => {
    const m = marked({ METATASK_HUGE_PAGES: 'on' });
    expect(m.hugePages).to.equal(true);
    expect(m.before).to.equal(0);
    // The product's packing panel: whole 2 MiB pages of the kernels' own memory.
    expect(m.afterProduct).to.be.at.least(2048);
    // The fit's targets and correlations (5000 and 2000 values) come from the lease's huge pages.
    expect(m.afterFit).to.be.at.least(m.afterProduct + 2048);
  });

  it('any other value is a ConfigError naming the values it takes', () => {
    for (const value of ['1', 'true', 'ON']) {
      const run = markedWith({ METATASK_HUGE_PAGES: value });
      expect(run.status).to.not.equal(0);
      expect(run.stderr).to.contain(`ConfigError: METATASK_HUGE_PAGES must be 'on' or 'off' (or unset, the same as 'off'), got '${value}'`);
    }
  });
});
