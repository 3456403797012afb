/**
 * The npm package as a user gets it: what `npm pack` puts in the tarball, and what an install of
 * that tarball does on a machine with no compiler, make, pkg-config, Python or Eigen.
 *
 * The tarball carries the prebuilt binary of this platform: the one `npm run build:prebuilds`
 * wrote under prebuilds/ when there is one (CI builds it first), else the addon of this checkout,
 * stripped and put where build:prebuilds would (the same loader path and file name).
 */
import { expect } from 'chai';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative } from 'node:path';

import { packageRoot } from '../lib/kernels/native.js';

const require = createRequire(import.meta.url);
const root = packageRoot();
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  name: string; version: string; license: string; dependencies: Record<string, string>; bin: Record<string, string>; engines: Record<string, string>;
};
const { prebuildPath, installPrebuild } = require('../../scripts/build-prebuilds.cjs') as {
  prebuildPath(): string;
  installPrebuild(src: string, pkgRoot: string): string;
};
const { requirements, compareVersions } = require('../../scripts/check-glibc.cjs') as {
  requirements(file: string): { glibc: string | null; glibcSymbols: string[]; libstdcxx: string | null };
  compareVersions(a: string, b: string): number;
};

/** npm's own CLI script, run with this node (so that PATH can be emptied of everything else). */
function npmCli(): string {
  const fromNpm = process.env.npm_execpath;
  if (fromNpm && /npm-cli\.[cm]?js$/.test(fromNpm)) return fromNpm;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, 'npm');
    if (existsSync(p)) return realpathSync(p);
  }
  throw new Error('npm not found on PATH');
}

function npm(args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): SpawnSyncReturns<string> {
  const r = spawnSync(process.execPath, [npmCli(), ...args], { cwd, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** The paths `npm pack` would put in the tarball of `dir` (without running prepare: `npm test` built dist/ already). */
function packList(dir: string): string[] {
  const out = npm(['pack', '--dry-run', '--json', '--ignore-scripts'], dir).stdout;
  return (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path).sort();
}

function walk(dir: string): string[] {
  if (!existsSync(join(root, dir))) return [];
  return readdirSync(join(root, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)).split('\\').join('/'));
}

/** What the package should hold, from the sources: compiled JS and types of every lib/ module, no maps, no build/. */
function intendedFiles(): string[] {
  const compiled = walk('lib')
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .flatMap((f) => [`dist/${f.slice(0, -3)}.js`, `dist/${f.slice(0, -3)}.d.ts`]);
  const fixed = ['package.json', 'README.md', 'LICENSE', 'binding.gyp', 'CMakeLists.txt', 'scripts/install.cjs', 'scripts/native-flags.cjs'];
  return [...fixed, ...compiled, ...walk('native'), ...walk('data'), ...walk('prebuilds')].sort();
}

describe('npm package', function () {
  this.timeout(300_000);

  it('npm pack lists exactly the intended files: LICENSE, compiled lib without source maps, native sources, prebuilds', () => {
    const files = packList(root);
    const intended = intendedFiles();
    expect(files.filter((f) => !intended.includes(f)), 'files that should not be in the package').to.deep.equal([]);
    expect(intended.filter((f) => !files.includes(f)), 'files missing from the package').to.deep.equal([]);
    expect(files).to.include('LICENSE');
    expect(files.filter((f) => f.endsWith('.map') || f.startsWith('build/') || (f.endsWith('.ts') && !f.endsWith('.d.ts')))).to.deep.equal([]);
    expect(files.some((f) => f.startsWith('test/') || f.startsWith('bench/'))).to.equal(false);
  });

  it('LICENSE is the MIT licence package.json names, and no shipped file points at a source map', () => {
    expect(pkg.license).to.equal('MIT');
    expect(readFileSync(join(root, 'LICENSE'), 'utf8')).to.match(/^MIT License\n\nCopyright \(c\) \d{4} metatask contributors\n/);
    const js = walk('dist/lib').filter((f) => f.endsWith('.js'));
    expect(js.length).to.be.greaterThan(50);
    expect(js.filter((f) => readFileSync(join(root, f), 'utf8').includes('sourceMappingURL'))).to.deep.equal([]);
  });

  describe('the packed tarball, installed offline where no compiler is found', function () {
    let work: string;
    let tarball: string;
    let binary: string;
    let builtByPrebuilds: boolean;
    let bin: string;
    const projects: Record<'ignoreScripts' | 'withScripts', { dir: string; installOutput: string }> = {} as never;

    /** A stage of the package (the files npm pack takes) with this platform's prebuilt binary, packed once. */
    function packWithPrebuild(): void {
      const stage = join(work, 'stage');
      for (const f of packList(root)) {
        mkdirSync(dirname(join(stage, f)), { recursive: true });
        cpSync(join(root, f), join(stage, f));
      }
      builtByPrebuilds = existsSync(join(root, prebuildPath()));
      binary = builtByPrebuilds
        ? join(stage, prebuildPath())
        : installPrebuild((require('node-gyp-build') as { resolve(dir: string): string }).resolve(root), stage);
      const out = npm(['pack', '--json', '--ignore-scripts', '--pack-destination', work], stage).stdout;
      tarball = join(work, (JSON.parse(out) as { filename: string }[])[0]!.filename);
    }

    /**
     * An empty project depending on the tarball only. Its lockfile pins the package's own
     * dependencies to the entries of this repository's lockfile, whose tarballs `npm ci` left in
     * npm's cache, so `npm ci --offline` needs no registry.
     */
    function project(name: string): string {
      const dir = join(work, name);
      mkdirSync(dir);
      const spec = `file:${relative(dir, tarball)}`;
      const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
      const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
      const packages: Record<string, unknown> = {
        '': { name, dependencies: { [pkg.name]: spec } },
        [`node_modules/${pkg.name}`]: {
          version: pkg.version, resolved: spec, integrity, hasInstallScript: true, license: pkg.license,
          dependencies: pkg.dependencies, bin: pkg.bin, engines: pkg.engines,
        },
      };
      for (const d of Object.keys(pkg.dependencies)) packages[`node_modules/${d}`] = lock.packages[`node_modules/${d}`];
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true, type: 'module', dependencies: { [pkg.name]: spec } }));
      writeFileSync(join(dir, 'package-lock.json'), JSON.stringify({ name, lockfileVersion: 3, requires: true, packages }));
      return dir;
    }

    /** PATH holding node and sh only (npm runs install scripts through sh): no compiler, make, pkg-config or Python. */
    function bareEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
      const cache = process.env.npm_config_cache; // where `npm ci` left the dependencies' tarballs
      return { PATH: bin, HOME: process.env.HOME, ...(cache ? { npm_config_cache: cache } : {}), ...extra };
    }

    /** Fit a small multi-task lasso in `dir` on the backend `backendName` selects; returns what it prints. */
    function probe(dir: string, extra: NodeJS.ProcessEnv = {}): { backend: { name: string; simd: string }; coef: number[]; objective: number } {
      const code = `
        import { backend, MultiTaskLasso } from '${pkg.name}';
        const X = [], Y = [];
        for (let i = 0; i < 40; i++) {
          const x = Array.from({ length: 8 }, (_, j) => Math.sin(1 + 7 * i + 3 * j));
          X.push(x);
          Y.push([0, 1, 2].map((t) => (t + 1) * x[0] - 2 * x[3] + 0.1 * Math.cos(i + t)));
        }
        const m = new MultiTaskLasso({ alpha: 0.01, tol: 1e-12, maxIter: 20000 }).fitSync(X, Y);
        // The lasso objective (1/(2n)) ||Y - XW - b||^2 + alpha sum_j ||W_j||, coef T x d.
        const P = m.predict(X).data, c = m.coef.data;
        let rss = 0, l21 = 0;
        for (let i = 0; i < 40; i++) for (let t = 0; t < 3; t++) rss += (Y[i][t] - P[i * 3 + t]) ** 2;
        for (let j = 0; j < 8; j++) l21 += Math.hypot(c[j], c[8 + j], c[16 + j]);
        const objective = rss / 80 + 0.01 * l21;
        console.log(JSON.stringify({ backend: backend(), coef: Array.from(c), objective }));`;
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: dir, env: bareEnv(extra), encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`probe failed (exit ${r.status}):\n${r.stderr}`);
      return JSON.parse(r.stdout) as { backend: { name: string; simd: string }; coef: number[]; objective: number };
    }

    before(function () {
      if (process.platform === 'win32') this.skip();
      const found = existsSync(join(root, prebuildPath())) || existsSync(join(root, 'build', 'Release', 'metatask.node'));
      if (!found && process.env.METATASK_REQUIRE_NATIVE !== '1') this.skip();
      work = mkdtempSync(join(tmpdir(), 'metatask-package-'));
      bin = join(work, 'bin');
      mkdirSync(bin);
      symlinkSync(process.execPath, join(bin, 'node'));
      symlinkSync('/bin/sh', join(bin, 'sh'));
      packWithPrebuild();
      const ignoreScripts = project('ignore-scripts');
      projects.ignoreScripts = { dir: ignoreScripts, installOutput: npm(['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], ignoreScripts, bareEnv()).stdout };
      const withScripts = project('with-scripts');
      projects.withScripts = { dir: withScripts, installOutput: npm(['ci', '--offline', '--foreground-scripts', '--no-audit', '--no-fund'], withScripts, bareEnv()).stdout };
    });

    after(() => {
      if (work) rmSync(work, { recursive: true, force: true });
    });

    it('the test PATH really has no compiler, make, pkg-config or Python', () => {
      for (const tool of ['c++', 'g++', 'gcc', 'cc', 'clang', 'make', 'pkg-config', 'python3']) {
        expect(spawnSync(tool, ['--version'], { env: bareEnv() }).error, tool).to.have.property('code', 'ENOENT');
      }
    });

    for (const mode of ['ignoreScripts', 'withScripts'] as const) {
      it(`${mode === 'ignoreScripts' ? 'with --ignore-scripts' : 'with install scripts'}: the native backend loads from the prebuilt binary and nothing was compiled`, () => {
        const { dir } = projects[mode];
        const installed = join(dir, 'node_modules', pkg.name);
        expect(existsSync(join(installed, prebuildPath()))).to.equal(true);
        expect(existsSync(join(installed, 'build')), 'a build/ folder in the installed package').to.equal(false);
        const native = probe(dir);
        expect(native.backend.name).to.equal('native');
        // The same fit on the TypeScript kernels of the same installed package agrees.
        const js = probe(dir, { METATASK_BACKEND: 'js' });
        expect(js.backend.name).to.equal('js');
        expect(native.coef).to.have.length(24);
        expect(native.coef.some((c) => Math.abs(c) > 0.5)).to.equal(true);
        // Both stop at the same duality-gap tolerance: the objectives agree to it. On these nearly
        // collinear features the objective is flat around its minimum (optima 1e-5 apart have the
        // same objective to the last digit), so the coefficients agree only to that accuracy.
        expect(native.objective).to.be.closeTo(js.objective, 1e-12 * js.objective);
        for (let i = 0; i < 24; i++) expect(native.coef[i]).to.be.closeTo(js.coef[i]!, 1e-4);
      });
    }

    it('the install script says it uses the prebuilt binary', () => {
      expect(projects.withScripts.installOutput).to.include(`metatask: using the native addon ${prebuildPath()}`);
      expect(projects.withScripts.installOutput).not.to.match(/building the native addon/);
    });

    it('`metatask info` of the installed package names the prebuilt binary', () => {
      const r = spawnSync(join(projects.ignoreScripts.dir, 'node_modules', '.bin', 'metatask'), ['info'], { env: bareEnv(), encoding: 'utf8' });
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/^backend: +native /m);
      expect(r.stdout).to.include(join('node_modules', pkg.name, prebuildPath()));
    });

    it('the Linux binary needs no newer glibc than docs/install.md states (and, from build:prebuilds, no shared libstdc++)', function () {
      if (process.platform !== 'linux') this.skip();
      const documented = /needs glibc (\d+\.\d+) or newer/.exec(readFileSync(join(root, 'docs', 'install.md'), 'utf8'))?.[1];
      expect(documented, 'docs/install.md: "needs glibc x.y or newer"').to.be.a('string');
      const req = requirements(binary);
      expect(req.glibc).to.be.a('string');
      expect(compareVersions(req.glibc!, documented!), `needs glibc ${req.glibc} for ${req.glibcSymbols.join(', ')}`).to.be.at.most(0);
      if (builtByPrebuilds) expect(req.libstdcxx).to.equal(null);
    });
  });
});
