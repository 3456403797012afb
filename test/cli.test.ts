/**
 * The `metatask` command, run as a user runs it: the built dist/lib/cli/main.js in a child process
 * (on the backend the suite runs on), on small tables written to a temporary folder from the
 * School data shipped with the package.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { COMMANDS } from '../lib/cli/commands/index.js';
import { main } from '../lib/cli/main.js';
import { findModel, MODELS } from '../lib/cli/models.js';
import { datasets } from '../lib/data/school.js';
import { PRODUCTS_WASM } from '../lib/kernels/js/wasm/productsBytes.js';
import { packageRoot } from '../lib/kernels/native.js';
import * as metatask from '../lib/index.js';
import { L21Regression } from '../lib/linear/l21.js';
import { expectWellFormedSvg } from './helpers.js';

const cli = join(packageRoot(), 'dist', 'lib', 'cli', 'main.js');
const version = (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;

function run(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: process.env, ...(input !== undefined ? { input } : {}) });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The command run in this process (fast; the same code as the child process but for the entry point). */
async function runHere(args: string[]) {
  let stdout = '';
  let stderr = '';
  const status = await main(args, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) } });
  return { status, stdout, stderr };
}

/** A user's mistake reads as one message: no stack frame lines. */
function expectNoStack(text: string): void {
  expect(text).not.to.match(/^\s+at .+:\d+:\d+\)?$/m);
}

/** CSV rows as objects of strings. */
function parseCsv(text: string): Record<string, string>[] {
  const [head, ...lines] = text.trim().split('\n');
  const names = head!.split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, j) => [names[j]!, v])));
}

describe('metatask command', () => {
  let dir: string;
  let train: string;
  let test: string;
  const features = datasets.school().tasks[0]!.X.cols;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'metatask-cli-'));
    // Twelve schools of the shipped School data as a CSV of one row per student, as a user has it.
    const names = ['school', 'score', ...Array.from({ length: features }, (_, j) => `f${j}`)];
    const { train: tr, test: te } = new metatask.MultiTaskDataset(datasets.school().tasks.slice(0, 12)).split({ testFraction: 0.3, seed: 3 });
    const csv = (ds: metatask.MultiTaskDataset) =>
      [names.join(','), ...ds.tasks.flatMap((t) => Array.from({ length: t.X.rows }, (_, i) => [t.name, t.y[i], ...t.X.data.subarray(i * features, (i + 1) * features)].join(',')))].join('\n') + '\n';
    train = join(dir, 'train.csv');
    test = join(dir, 'test.csv');
    writeFileSync(train, csv(tr));
    writeFileSync(test, csv(te));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('help and version', () => {
    it('--version prints the package version', () => {
      const r = run(['--version']);
      expect(r.status).to.equal(0);
      expect(r.stdout.trim()).to.equal(version);
    });

    it('--help lists every command of the table', () => {
      const r = run(['--help']);
      expect(r.status).to.equal(0);
      for (const c of COMMANDS) expect(r.stdout).to.match(new RegExp(`^  ${c.name} +${c.summary.slice(0, 20)}`, 'm'));
    });

    it('every command has --help with its synopsis and options', async () => {
      expect(run(['fit', '--help']).stdout).to.match(/^usage: metatask fit /);
      for (const c of COMMANDS) {
        const r = await runHere([c.name, '--help']);
        expect(r.status, c.name).to.equal(0);
        expect(r.stdout).to.match(new RegExp(`^usage: metatask ${c.name}`)).and.include('--json');
        for (const o of Object.keys(c.options)) expect(r.stdout, `${c.name} --${o}`).to.include(`--${o}`);
      }
    });

    it('importing the command runs nothing; main(argv, io) runs it with the streams given', async () => {
      let out = '';
      let err = '';
      const io = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } };
      expect(await main(['--version'], io)).to.equal(0);
      expect(out.trim()).to.equal(version);
      expect(await main(['fit', '--epochz', '3'], io)).to.equal(2);
      expect(err).to.match(/unknown option '--epochz' \(did you mean '--epochs'\?\)/);
    });
  });

  describe('the model table', () => {
    it('every family is reachable by name, and each entry names an exported class of that kind', () => {
      const exported = metatask as unknown as Record<string, unknown>;
      for (const m of MODELS) {
        expect(exported[m.className], m.className).to.be.a('function');
        expect(findModel(m.name)).to.equal(m);
        for (const a of m.aliases) expect(findModel(a)).to.equal(m);
      }
      expect(MODELS.map((m) => m.name)).to.include.members(['l21', 'lasso', 'elastic-net', 'trace-norm', 'mean-regularized', 'clustered', 'mtnet', 'maml', 'protonet']);
    });

    it('a misspelt model name gets "did you mean", exit 2', () => {
      const r = run(['fit', '--model', 'trace_norm', '--target', 'score', '-o', join(dir, 'x.json'), train]);
      expect(r.status).to.equal(2);
      expect(r.stderr).to.match(/unknown model 'trace_norm' \(did you mean 'trace-norm'\?\); known models: lasso, /);
      expectNoStack(r.stderr);
    });
  });

  describe('fit, predict, evaluate on School from CSV', () => {
    let model: string;

    it('fit draws a progress bar, writes the model file and the learning curve', () => {
      model = join(dir, 'model.json');
      const curve = join(dir, 'curve.svg');
      const r = run(['fit', '--model', 'l21', '--set', 'alpha=0.5', '--task-column', 'school', '--target', 'score', '--progress', 'bar', '--plot', curve, '-o', model, train]);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/^fitted l21 \(L21Regression\) on 12 tasks, \d+ rows, 28 features/);
      // A bar redrawn in place on one line, ended by a newline.
      expect(r.stderr).to.match(/\rfit {2}\[[#-]{24}\] {2}\d+\/\d+ iterations {2}loss \S+/);
      const tags = expectWellFormedSvg(readFileSync(curve, 'utf8'));
      expect(tags).to.include('polyline');
      // The file is the library's own model file: L21Regression.load reads it.
      const loaded = L21Regression.loadSync(model);
      expect(loaded.taskNames).to.have.length(12);
    });

    it('predict gives one prediction per row, in the table order, equal to the library model', () => {
      const r = run(['predict', model, test]);
      expect(r.status, r.stderr).to.equal(0);
      const rows = parseCsv(r.stdout);
      const input = parseCsv(readFileSync(test, 'utf8'));
      expect(rows).to.have.length(input.length);
      expect(rows.map((x) => x.school)).to.deep.equal(input.map((x) => x.school));
      const lib = L21Regression.loadSync(model);
      const first = input.findIndex((x) => x.school === 'school-3');
      const X = [Array.from({ length: features }, (_, j) => Number(input[first]![`f${j}`]))];
      expect(Number(rows[first]!.prediction)).to.be.closeTo(lib.predict('school-3', X)[0]!, 1e-9);
    });

    it('evaluate prints per-task metrics; --json is one object alone on stdout; --plot writes a bar per task', () => {
      const plot = join(dir, 'r2.svg');
      const r = run(['evaluate', '--json', '--plot', plot, model, test]);
      expect(r.status, r.stderr).to.equal(0);
      const ev = JSON.parse(r.stdout);
      expect(Object.keys(ev.tasks)).to.have.length(12);
      const lib = L21Regression.loadSync(model);
      const { test: te } = new metatask.MultiTaskDataset(datasets.school().tasks.slice(0, 12)).split({ testFraction: 0.3, seed: 3 });
      expect(ev.loss).to.be.closeTo(lib.evaluate(te).loss, 1e-9);
      expect(ev.mean.r2).to.be.a('number');
      const svg = readFileSync(plot, 'utf8');
      const tags = expectWellFormedSvg(svg);
      expect(tags.filter((t) => t === 'rect').length).to.be.at.least(13);
      expect(svg).to.include('>school-11</text>');
      const human = run(['evaluate', model, test]);
      expect(human.stdout).to.match(/^task +n +mse +mae +r2$/m).and.match(/^mean /m);
    });

    it('--json output of fit and predict is JSON alone on stdout; notes go to stderr', () => {
      const f = run(['fit', '--json', '--model', 'ridge', '--task-column', 'school', '--target', 'score', '-o', join(dir, 'ridge.json'), train]);
      expect(f.status, f.stderr).to.equal(0);
      expect(JSON.parse(f.stdout)).to.include({ model: 'ridge', kind: 'IndependentRidge', tasks: 12 });
      const p = run(['predict', '--json', model, test]);
      const records = JSON.parse(p.stdout);
      expect(records[0]).to.have.keys('school', 'prediction');
    });

    it('reads JSON records and standard input as it reads CSV', () => {
      const rows = parseCsv(readFileSync(test, 'utf8')).slice(0, 5);
      const json = JSON.stringify(rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, k === 'school' ? v : Number(v)]))));
      const fromJson = run(['predict', model, '-'], json);
      const fromCsv = run(['predict', model, '-'], readFileSync(test, 'utf8').split('\n').slice(0, 6).join('\n'));
      expect(fromJson.status, fromJson.stderr).to.equal(0);
      expect(fromJson.stdout).to.equal(fromCsv.stdout);
    });

    it('plain progress lines when stderr is not a terminal', () => {
      const r = run(['fit', '--model', 'mtnet', '--epochs', '3', '--task-column', 'school', '--target', 'score', '-o', join(dir, 'net.json'), train]);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stderr).not.to.include('\r');
      expect(r.stderr).to.match(/^fit {2}1\/3 epochs {2}loss \S+ {2}[\d.]+ s$/m).and.match(/^fit {2}3\/3 epochs/m);
    });
  });

  describe('other families', () => {
    it('lasso on shared inputs (one target column per task), with its duality-gap curve', () => {
      const rows = ['id,x1,x2,x3,a,b'];
      for (let i = 0; i < 80; i++) {
        const x = [Math.sin(i), Math.cos(3 * i), Math.sin(7 * i + 1)];
        rows.push(`r${i},${x.join(',')},${x[0]! + 2 * x[1]!},${x[0]! - x[2]!}`);
      }
      const data = join(dir, 'shared.csv');
      writeFileSync(data, rows.join('\n'));
      const model = join(dir, 'lasso.json');
      const f = run(['fit', '--model', 'lasso', '--targets', 'a,b', '--ignore', 'id', '--set', 'alpha=0.001', '--plot', join(dir, 'gap.svg'), '-o', model, data]);
      expect(f.status, f.stderr).to.equal(0);
      expect(readFileSync(join(dir, 'gap.svg'), 'utf8')).to.include('duality gap');
      const p = parseCsv(run(['predict', model, data]).stdout);
      expect(Object.keys(p[0]!)).to.deep.equal(['a', 'b']);
      expect(Number(p[5]!.a)).to.be.closeTo(Math.sin(5) + 2 * Math.cos(15), 0.05);
      const ev = JSON.parse(run(['evaluate', '--json', model, data]).stdout);
      expect(ev.tasks.a.r2).to.be.greaterThan(0.99);
    });

    it('a meta-learner adapts from --support rows, and is evaluated on few-shot tasks drawn from a table', () => {
      const model = join(dir, 'maml.json');
      const f = run(['fit', '--model', 'maml', '--task-column', 'school', '--target', 'score', '--iterations', '15', '--shots', '5', '--set', 'metaBatchSize=4', '-o', model, train]);
      expect(f.status, f.stderr).to.equal(0);
      const ev = run(['evaluate', '--json', '--tasks', '5', '--steps', '0,2', '--plot', join(dir, 'steps.svg'), model, test]);
      expect(ev.status, ev.stderr).to.equal(0);
      expect(JSON.parse(ev.stdout).rows.map((r: { steps: number }) => r.steps)).to.deep.equal([0, 2]);
      expectWellFormedSvg(readFileSync(join(dir, 'steps.svg'), 'utf8'));
      const p = run(['predict', '--support', train, model, test]);
      expect(p.status, p.stderr).to.equal(0);
      expect(parseCsv(p.stdout)).to.have.length(parseCsv(readFileSync(test, 'utf8')).length);
      const noSupport = run(['predict', model, test]);
      expect(noSupport.status).to.equal(1);
      expect(noSupport.stderr).to.match(/give --support <file>/);
    });

    it('protonet on one column of class labels draws few-shot episodes', () => {
      const rows = ['f1,f2,label'];
      for (let c = 0; c < 6; c++) for (let i = 0; i < 8; i++) rows.push(`${3 * Math.cos(c) + 0.1 * Math.sin(i)},${3 * Math.sin(c) + 0.1 * Math.cos(i)},${c}`);
      const data = join(dir, 'classes.csv');
      writeFileSync(data, rows.join('\n'));
      const model = join(dir, 'proto.json');
      const f = run(['fit', '--model', 'protonet', '--target', 'label', '--iterations', '5', '--ways', '3', '--shots', '2', '-o', model, data]);
      // Eight rows per class: the default query count shrinks to the 6 rows left after 2 shots.
      expect(f.status, f.stderr).to.equal(0);
      const ev = JSON.parse(run(['evaluate', '--json', '--tasks', '4', '--ways', '3', '--shots', '2', model, data]).stdout);
      expect(ev.rows[0].accuracy).to.be.within(0, 1);
    });

    it('bench times fits per backend and draws them', () => {
      const plot = join(dir, 'bench.svg');
      const r = run(['bench', '--json', '--model', 'ridge', '--backends', 'js', '--repeat', '1', '--task-column', 'school', '--target', 'score', '--plot', plot, train]);
      expect(r.status, r.stderr).to.equal(0);
      const out = JSON.parse(r.stdout);
      expect(out.rows).to.have.length(1);
      expect(out.rows[0]).to.include({ model: 'ridge', backend: 'js' });
      expect(out.rows[0].median).to.be.greaterThan(0);
      expectWellFormedSvg(readFileSync(plot, 'utf8'));
    });
  });

  describe('mistakes get one clear line and a non-zero exit', () => {
    const at = (f: string) => join(dir, f);
    const cases: [string, () => string[], number, RegExp][] = [
      ['an unknown command', () => ['frobnicate'], 2, /unknown command 'frobnicate'/],
      ['a misspelt option', () => ['fit', '--modle', 'l21'], 2, /unknown option '--modle' \(did you mean '--model'\?\)/],
      ['an option without its value', () => ['fit', '--model'], 2, /option '--model' needs a value/],
      ['a bad number', () => ['fit', '--model', 'mtnet', '--epochs', 'ten', '--task-column', 'school', '--target', 'score', '-o', at('x.json'), train], 2, /option '--epochs' must be an integer, got 'ten'/],
      ['no target', () => ['fit', '--model', 'l21', '-o', at('x.json'), train], 2, /which column is the target\?/],
      ['a missing data file', () => ['fit', '--model', 'l21', '--target', 'score', '-o', at('x.json'), at('nope.csv')], 1, /cannot read .*nope\.csv: no such file/],
      ['a misspelt column', () => ['fit', '--model', 'l21', '--task-column', 'schol', '--target', 'score', '-o', at('x.json'), train], 1, /has no column 'schol' \(did you mean 'school'\?\)/],
      ['a misspelt model option', () => ['fit', '--model', 'l21', '--set', 'alpah=1', '--task-column', 'school', '--target', 'score', '-o', at('x.json'), train], 1, /unknown option 'alpah' \(did you mean 'alpha'\?\)/],
      ['a lasso given a task column', () => ['fit', '--model', 'lasso', '--task-column', 'school', '--target', 'score', '-o', at('x.json'), train], 1, /one target column per task: give --targets/],
      ['a missing model file', () => ['predict', at('nope.json'), test], 1, /cannot read the model file .*nope\.json: no such file/],
      ['a file that is not a model', () => ['evaluate', train, test], 1, /not a metatask model/],
      ['a misspelt metric', () => ['evaluate', '--metric', 'r3', join(dir, 'model.json'), test], 2, /no metric 'r3'/],
    ];
    for (const [what, args, code, message] of cases) {
      it(what, async () => {
        const r = await runHere(args());
        expect(r.status, r.stderr).to.equal(code);
        expect(r.stderr).to.match(message);
        expect(r.stdout, 'nothing on stdout').to.equal('');
        expectNoStack(r.stderr);
      });
    }

    it('the command itself (a child process) exits 2 or 1 with the message and no stack trace', () => {
      for (const [args, code, message] of [
        [['fit', '--modle', 'l21'], 2, /^metatask fit: unknown option '--modle' \(did you mean '--model'\?\)\nusage: metatask fit --model <name> .*\nrun 'metatask fit --help' for its options\n$/],
        [['fit', '--model', 'l21', '--target', 'score', '-o', 'x.json', 'nope.csv'], 1, /^metatask fit: cannot read nope\.csv: no such file\n$/],
        [['frobnicate'], 2, /^metatask: unknown command 'frobnicate'\n\nusage: metatask/],
      ] as const) {
        const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', cwd: dir });
        expect(r.status, r.stderr).to.equal(code);
        expect(r.stderr).to.match(message);
        expect(r.stdout).to.equal('');
      }
    });

    it('with --json an error is also a JSON object on stdout', async () => {
      const r = await runHere(['predict', '--json', join(dir, 'nope.json'), test]);
      expect(r.status).to.equal(1);
      expect(JSON.parse(r.stdout).error.message).to.match(/no such file/);
    });
  });

  describe('info', () => {
    it('info --json prints the selected backend and the native status as one JSON object', () => {
      const r = run(['info', '--json']);
      expect(r.status).to.equal(0);
      const info = JSON.parse(r.stdout);
      const requested = process.env.METATASK_BACKEND;
      if (requested === 'js' || requested === 'native') expect(info.name).to.equal(requested);
      else expect(info.name).to.be.oneOf(['native', 'js']);
      expect(info.available).to.include('js');
      expect(info.native.loaded).to.equal(info.available.includes('native'));
    });

    it('info names the backend and, when native is loaded, the file it came from', () => {
      const r = spawnSync(process.execPath, [cli, 'info'], { encoding: 'utf8', env: process.env });
      expect(r.status).to.equal(0);
      expect(r.stdout).to.match(/^metatask \d+\.\d+\.\d+ on Node\.js v/);
      expect(r.stdout).to.match(/^backend: +(native|js) /m);
      if (/^available: .*native/m.test(r.stdout)) expect(r.stdout).to.match(/^addon: +\S+\.node$/m);
    });

    it('info says whether huge pages are advised on the native backend, and only there', () => {
      const info = (env: NodeJS.ProcessEnv) => spawnSync(process.execPath, [cli, 'info'], { encoding: 'utf8', env: { ...process.env, ...env } });
      const js = info({ METATASK_BACKEND: 'js', METATASK_HUGE_PAGES: 'on' });
      expect(js.status).to.equal(0);
      expect(js.stdout).not.to.match(/^huge pages:/m);
      const auto = info({ METATASK_BACKEND: '', METATASK_HUGE_PAGES: '' });
      if (!/^backend: +native /m.test(auto.stdout)) {
        expect(auto.stdout).not.to.match(/^huge pages:/m);
        return;
      }
      expect(auto.stdout).to.match(/^huge pages: not advised \(METATASK_HUGE_PAGES=on advises them for new buffers\)$/m);
      const on = info({ METATASK_BACKEND: 'native', METATASK_HUGE_PAGES: 'on' });
      expect(on.status).to.equal(0);
      expect(on.stdout).to.match(/^huge pages: advised for new buffers \(METATASK_HUGE_PAGES=on\)$/m);
      expect(info({ METATASK_BACKEND: 'native', METATASK_HUGE_PAGES: 'off' }).stdout).to.match(/^huge pages: not advised /m);
    });

    describe('without the native addon', () => {
      let empty: string;
      before(() => {
        empty = mkdtempSync(join(tmpdir(), 'metatask-no-addon-'));
      });
      after(() => rmSync(empty, { recursive: true, force: true }));
      // node-gyp-build looks for metatask's binaries in METATASK_PREBUILD instead of the package.
      const without = (env: NodeJS.ProcessEnv) => ({ ...process.env, METATASK_PREBUILD: empty, ...env });

      it('info explains why native is unavailable and how to fix it, without the fallback warning', () => {
        const r = spawnSync(process.execPath, [cli, 'info'], { encoding: 'utf8', env: without({ METATASK_BACKEND: '' }) });
        expect(r.status).to.equal(0);
        expect(r.stdout).to.match(/^backend: +js \(the TypeScript kernels\)$/m);
        expect(r.stdout).to.match(/^addon: +not loaded; the loader looked in:\n {2}- node-gyp-build in .*No native build was found for platform=/m);
        expect(r.stdout).to.match(/^fix: +Install a prebuilt binary .*npm rebuild metatask.*METATASK_BACKEND=js/m);
        expect(r.stdout).to.match(/^available: js$/m);
        expect(r.stderr).to.equal('');
      });

      it('info says whether the TypeScript kernels run their products in WebAssembly SIMD', () => {
        const simd = WebAssembly.validate(Buffer.from(PRODUCTS_WASM, 'base64'));
        const r = spawnSync(process.execPath, [cli, 'info'], { encoding: 'utf8', env: without({ METATASK_BACKEND: 'js' }) });
        expect(r.stdout).to.match(simd ? /^products: +WebAssembly SIMD$/m : /^products: +plain loops \(/m);
        const off = spawnSync(process.execPath, [cli, 'info', '--json'], { encoding: 'utf8', env: without({ METATASK_BACKEND: 'js', METATASK_WASM: 'off' }) });
        expect(JSON.parse(off.stdout)).to.include({ name: 'js', wasmSimd: false });
        const on = spawnSync(process.execPath, [cli, 'info', '--json'], { encoding: 'utf8', env: without({ METATASK_BACKEND: 'js' }) });
        expect(JSON.parse(on.stdout)).to.include({ name: 'js', wasmSimd: simd });
      });

      it('METATASK_BACKEND=native: the BackendError explanation on stderr, exit 1, no stack trace', () => {
        const r = spawnSync(process.execPath, [cli, 'info'], { encoding: 'utf8', env: without({ METATASK_BACKEND: 'native' }) });
        expect(r.status).to.equal(1);
        expect(r.stdout).to.equal('');
        expect(r.stderr).to.match(/^metatask: the native backend was requested but the metatask addon could not be loaded\. Looked in:\n/);
        expect(r.stderr).to.match(/METATASK_BACKEND=js/);
        expect(r.stderr).not.to.match(/^\s+at /m);
      });

      it('METATASK_BACKEND=native with --json: the error as JSON on stdout, exit 1', () => {
        const r = spawnSync(process.execPath, [cli, 'info', '--json'], { encoding: 'utf8', env: without({ METATASK_BACKEND: 'native' }) });
        expect(r.status).to.equal(1);
        const out = JSON.parse(r.stdout);
        expect(out.error).to.include({ name: 'BackendError', code: 'ERR_NATIVE_UNAVAILABLE' });
        expect(out.native.loaded).to.equal(false);
        expect(out.native.attempts[0]).to.match(/No native build was found/);
      });
    });

    it('info rejects an unknown option with the usage', () => {
      const r = spawnSync(process.execPath, [cli, 'info', '--jsn'], { encoding: 'utf8' });
      expect(r.status).to.equal(2);
      expect(r.stderr).to.match(/unknown option '--jsn'/).and.match(/usage: metatask/);
    });
  });
});
