/**
 * Every ```ts block of README.md and docs/*.md compiles under `tsc --strict` against the
 * package's published types, as a user's program would: each block is its own module in a
 * scratch project whose node_modules/metatask is this package (its package.json "exports" point
 * at dist/lib/index.d.ts). The examples use no casts, so they show what a user can write as is.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Block {
  file: string;
  line: number;
  code: string;
}

/** The ```ts blocks of a Markdown text, with the line each starts on. */
export function tsBlocks(file: string, text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i]!)) continue;
    const start = i + 1;
    let j = start;
    while (j < lines.length && !/^```\s*$/.test(lines[j]!)) j++;
    blocks.push({ file, line: start + 1, code: lines.slice(start, j).join('\n') });
    i = j;
  }
  return blocks;
}

function docs(): Block[] {
  const files = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f))];
  return files.flatMap((f) => tsBlocks(f, readFileSync(join(root, f), 'utf8')));
}

describe('documentation examples', function () {
  this.timeout(120_000);

  it('the block reader finds ts blocks and their lines, and only those', () => {
    const text = ['# t', '```ts', 'const a = 1;', '```', '```sh', 'ls', '```', '', '```typescript', 'const b = 2;', 'const c = 3;', '```'].join('\n');
    expect(tsBlocks('x.md', text)).to.deep.equal([
      { file: 'x.md', line: 3, code: 'const a = 1;' },
      { file: 'x.md', line: 10, code: 'const b = 2;\nconst c = 3;' },
    ]);
  });

  it('README.md and docs/*.md have examples, none of them with a cast', () => {
    const blocks = docs();
    expect(blocks.filter((b) => b.file === 'README.md').length).to.be.at.least(3);
    expect(blocks.filter((b) => b.file.startsWith('docs')).length).to.be.at.least(3);
    for (const b of blocks) {
      // `x as T` and `x as unknown as T` are casts; `import { a as b }` and `as const` are not.
      const code = b.code.split('\n').filter((l) => !/^\s*(import|export)\b/.test(l));
      const casts = code.filter((l) => /\bas (?!const\b)[A-Za-z{[(]/.test(l.replace(/\/\/.*$/, '')));
      expect(casts, `${b.file}:${b.line}`).to.deep.equal([]);
    }
  });

  it('every example compiles under strict TypeScript against the package types', () => {
    const blocks = docs();
    const dir = mkdtempSync(join(tmpdir(), 'metatask-docs-'));
    try {
      mkdirSync(join(dir, 'node_modules'));
      symlinkSync(root, join(dir, 'node_modules', 'metatask'), 'dir');
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
      const files = blocks.map((b, k) => {
        const name = `block${k}.ts`;
        // export {} makes a block without imports a module too (top-level await, own scope).
        writeFileSync(join(dir, name), `${b.code}\nexport {};\n`);
        return name;
      });
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            target: 'ES2022',
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            noEmit: true,
            skipLibCheck: true,
            types: ['node'],
            typeRoots: [join(root, 'node_modules', '@types')],
          },
          files,
        }),
      );
      const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
      const r = spawnSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { encoding: 'utf8' });
      // Errors name the scratch file: point them back to the Markdown file and line.
      const report = (r.stdout + r.stderr).replace(/\S*block(\d+)\.ts[(:](\d+)[,:](\d+)\)?/g, (_, k, line, col) => {
        const b = blocks[Number(k)]!;
        return `${b.file}:${b.line + Number(line) - 1}:${col}`;
      });
      expect(report.trim(), report).to.equal('');
      expect(r.status).to.equal(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
