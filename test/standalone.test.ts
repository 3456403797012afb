/**
 * The package and the repository stand alone: no source comment, string, test or guide points to
 * notes a reader does not have (internal design documents), to issue numbers, or to the code
 * names of benchmark workloads. Scans lib/, native/src/, test/, docs/ (not the generated API
 * reference), README.md and scripts/.
 */
import { expect } from 'chai';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const self = 'test/standalone.test.ts';

/** What must not appear, with why (the patterns are built from parts so this file does not match itself). */
const FORBIDDEN: [RegExp, string][] = [
  [new RegExp(['DESIGN', 'NATIVE', 'BENCH'].map((n) => `\\b${n}\\.md\\b`).join('|')), 'an internal design note'],
  [new RegExp(`\\.\\./${'shared'}\\b`), 'a folder outside the repository'],
  [/\bissues? #?\d+|\bissue #\d+/i, 'an issue number'],
  [new RegExp(`\\b${'W'}[1-7]\\b`), 'a workload code name'],
];

const SCANNED = ['lib', 'native/src', 'test', 'docs', 'scripts', 'README.md'];
const TEXT = /\.(ts|mts|cts|js|mjs|cjs|cc|h|c|md|json|py|sh)$/;

function files(path: string): string[] {
  const full = join(root, path);
  if (statSync(full).isFile()) return [path];
  return readdirSync(full, { recursive: true })
    .map(String)
    .map((f) => join(path, f))
    .filter((f) => TEXT.test(f) && !/node_modules|(^|\/)docs\/api\//.test(f) && statSync(join(root, f)).isFile());
}

/** Every line of `text` matching a forbidden pattern, as "file:line: why: text". */
export function findReferences(file: string, text: string): string[] {
  const out: string[] = [];
  text.split('\n').forEach((line, i) => {
    for (const [re, why] of FORBIDDEN) if (re.test(line)) out.push(`${file}:${i + 1}: ${why}: ${line.trim().slice(0, 120)}`);
  });
  return out;
}

describe('the repository stands alone', () => {
  it('the scanner flags each kind of reference, and plain words that only look alike pass', () => {
    const flagged = [`see ${'DESIGN'}.md section 3`, `(issue 4)`, 'fixes issue #12', `on the ${'W'}2 net`, `../${'shared'}/data/x`];
    for (const line of flagged) expect(findReferences('x.ts', line), line).to.have.length(1);
    for (const line of ['kernels issue many short sections', 'W21 weights', 'const W = 1', 'shared/ folder', 'sharedPart']) expect(findReferences('x.ts', line), line).to.deep.equal([]);
  });

  it('no comment, string, test or guide names a design note, an issue number, a workload code or a folder outside', () => {
    const all = SCANNED.flatMap(files).filter((f) => relative(root, join(root, f)) !== self);
    expect(all.length).to.be.greaterThan(100);
    const hits = all.flatMap((f) => findReferences(f, readFileSync(join(root, f), 'utf8')));
    expect(hits, hits.join('\n')).to.deep.equal([]);
  });
});
