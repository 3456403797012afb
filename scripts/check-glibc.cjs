#!/usr/bin/env node
// `npm run check:glibc [-- <file.node>...] [--max <x.y>]`: the oldest glibc a Linux binary loads
// with, read from the versions of the symbols it imports (`objdump -T`): the highest GLIBC_x.y
// among them. Also says whether it needs the shared libstdc++ (GLIBCXX_/CXXABI_ versions), which
// ties it to a GCC runtime at least as new as the one it was built with.
// Without a file: the prebuilt binaries for Linux under prebuilds/, else build/Release/metatask.node.
// --max x.y exits 1 when a binary needs a newer glibc than x.y (for CI).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

function compareVersions(a, b) {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * The versioned symbols `file` imports, grouped: { glibc, glibcSymbols, libstdcxx, libstdcxxSymbols }.
 * glibc: the highest GLIBC_ version (e.g. '2.29'); glibcSymbols: the symbols that need it;
 * libstdcxx: the highest GLIBCXX_ version, or null when the binary does not use the shared libstdc++.
 */
function requirements(file) {
  const r = spawnSync(process.env.OBJDUMP || 'objdump', ['-T', file], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error(`check-glibc: objdump -T ${file} failed (${r.error ? r.error.message : r.stderr.trim()}); install binutils`);
  }
  const needs = { GLIBC: new Map(), GLIBCXX: new Map(), CXXABI: new Map() };
  for (const line of r.stdout.split('\n')) {
    // Imported symbols are *UND*; the version stands before the name, in parentheses when hidden.
    const m = /\*UND\*\s+\S+\s+\(?(GLIBC|GLIBCXX|CXXABI)_([0-9.]+)\)?\s+(\S+)\s*$/.exec(line);
    if (!m) continue;
    const [, lib, version, symbol] = m;
    if (!needs[lib].has(version)) needs[lib].set(version, []);
    needs[lib].get(version).push(symbol);
  }
  const highest = (map) => [...map.keys()].sort(compareVersions).pop() ?? null;
  const glibc = highest(needs.GLIBC);
  const libstdcxx = highest(needs.GLIBCXX);
  return {
    file,
    glibc,
    glibcSymbols: glibc ? needs.GLIBC.get(glibc).sort() : [],
    libstdcxx,
    libstdcxxSymbols: libstdcxx ? needs.GLIBCXX.get(libstdcxx).sort() : [],
  };
}

/** One line: "<file> needs glibc >= 2.29 (exp, log, pow); no shared libstdc++". */
function describe(req) {
  const name = path.relative(root, req.file) || req.file;
  const glibc = req.glibc ? `glibc >= ${req.glibc} (${req.glibcSymbols.join(', ')})` : 'no versioned glibc symbol';
  const cxx = req.libstdcxx ? `libstdc++ >= GLIBCXX_${req.libstdcxx} (${req.libstdcxxSymbols.join(', ')})` : 'no shared libstdc++';
  return `${name} needs ${glibc}; ${cxx}`;
}

/** The Linux binaries of this checkout: prebuilds/linux-*\/*.glibc.node, else build/Release/metatask.node. */
function defaultFiles() {
  const pre = path.join(root, 'prebuilds');
  const found = [];
  for (const tuple of fs.existsSync(pre) ? fs.readdirSync(pre) : []) {
    if (!tuple.startsWith('linux-')) continue;
    for (const f of fs.readdirSync(path.join(pre, tuple))) if (f.endsWith('.glibc.node')) found.push(path.join(pre, tuple, f));
  }
  if (found.length > 0) return found;
  const dev = path.join(root, 'build', 'Release', 'metatask.node');
  return fs.existsSync(dev) ? [dev] : [];
}

function main() {
  const argv = process.argv.slice(2);
  const maxAt = argv.indexOf('--max');
  const max = maxAt >= 0 ? argv[maxAt + 1] : undefined;
  if (maxAt >= 0 && !/^\d+\.\d+$/.test(max ?? '')) throw new Error(`check-glibc: --max needs a version such as 2.28, got '${max ?? ''}'`);
  const files = maxAt >= 0 ? argv.filter((_, i) => i !== maxAt && i !== maxAt + 1) : argv;
  const targets = files.length > 0 ? files : defaultFiles();
  if (targets.length === 0) throw new Error('check-glibc: no Linux binary found; run `npm run build:prebuilds` first or name a file');
  let tooNew = false;
  for (const f of targets) {
    const req = requirements(f);
    console.log(describe(req));
    if (max && req.glibc && compareVersions(req.glibc, max) > 0) {
      console.log(`check-glibc: ${path.relative(root, f) || f} needs glibc ${req.glibc}, newer than the allowed ${max}`);
      tooNew = true;
    }
  }
  process.exit(tooNew ? 1 : 0);
}

module.exports = { requirements, describe, compareVersions };

if (require.main === module) {
  try {
    main();
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  }
}
