/**
 * The source tree's structure: no import cycle anywhere in lib/ (type-only imports included), and
 * lower layers never import higher ones (core <- kernels <- nn/data/metrics/io/parallel <-
 * linear/mtl/meta <- distributed/cli). Reads the TypeScript sources, so it checks what a contributor edits.
 */
import { expect } from 'chai';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const lib = join(root, 'lib');

/** Layer of each top-level folder of lib/; a file may import its own layer or lower ones. */
// parallel: the worker-thread pool the models' fits use; distributed: what runs the library's
// work elsewhere (the worker-thread and queue-worker programs, fan-out over a queue).
const LAYER: Record<string, number> = { core: 0, kernels: 1, nn: 2, data: 2, metrics: 2, io: 2, plot: 2, parallel: 2, linear: 3, mtl: 3, meta: 3, distributed: 4, cli: 4 };

// `import ... from '...'`, `export ... from '...'`, `import '...'` and `import('...')` of relative paths.
const IMPORT = /(?:^|\n)\s*(?:import|export)\s+(?:type\s+)?[^'";]*?from\s+['"](\.[^'"]+)['"]|(?:^|\n)\s*import\s+['"](\.[^'"]+)['"]|\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/g;

/** Relative imports of every .ts file under `dir`, as paths relative to `dir`'s parent. */
function importGraph(dir: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const f of readdirSync(dir, { recursive: true }).map(String)) {
    if (!f.endsWith('.ts') || f.endsWith('.d.ts')) continue;
    const file = join(dir, f);
    const deps: string[] = [];
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3]!;
      deps.push(relative(root, resolve(dirname(file), spec.replace(/\.js$/, '.ts'))));
    }
    graph.set(relative(root, file), deps);
  }
  return graph;
}

/** Every cycle's files (strongly connected components of more than one file, or a self-import). */
function importCycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

describe('source structure', () => {
  const graph = importGraph(lib);

  it('the import scanner sees the imports of lib/', () => {
    // Guards the checks below against passing on an empty graph.
    expect(graph.get('lib/linear/taskModel.ts')).to.include('lib/linear/taskCV.ts');
    expect(graph.get('lib/index.ts')!.length).to.be.greaterThan(10);
  });

  it('the cycle finder reports a cycle, and only the files on it', () => {
    const g = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', ['a']],
      ['e', ['e']],
    ]);
    expect(importCycles(g)).to.have.deep.members([['a', 'b', 'c'], ['e']]);
    expect(importCycles(new Map([['a', ['b']], ['b', []]]))).to.deep.equal([]);
  });

  it('lib/ has no import cycle', () => {
    expect(importCycles(graph)).to.deep.equal([]);
  });

  it('no module imports a higher layer', () => {
    const wrong: string[] = [];
    for (const [file, deps] of graph) {
      if (file === 'lib/index.ts') continue; // the entry point sees everything
      const from = LAYER[file.split('/')[1]!];
      if (from === undefined) {
        wrong.push(`${file}: folder not in the layer table of this test`);
        continue;
      }
      for (const d of deps) {
        const to = LAYER[d.split('/')[1]!];
        if (to === undefined || to > from) wrong.push(`${file} -> ${d}`);
      }
    }
    expect(wrong).to.deep.equal([]);
  });
});
