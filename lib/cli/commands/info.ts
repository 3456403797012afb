/**
 * `metatask info`: the backend in use (native or js), its SIMD level and threads, and, when the
 * native addon is missing, everything the loader tried and how to fix it. When the native
 * backend is demanded (METATASK_BACKEND=native) and missing, the BackendError's explanation goes
 * to stderr (or the error as JSON with --json) and the exit code is 1: that is the case this
 * command diagnoses, so it never ends in a stack trace.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { MetataskError } from '../../core/errors.js';
import { availableBackends, backend, nativeStatus, setBackend } from '../../kernels/index.js';
import { packageRoot } from '../../kernels/native.js';
import type { BackendInfo } from '../../kernels/types.js';
import { Output, positionals, type Command } from '../command.js';

export const info: Command = {
  name: 'info',
  summary: 'the backend in use, its SIMD level and threads, and why the native addon is missing when it is',
  usage: 'metatask info [--json]',
  description: `Says which kernels metatask runs on here: the native addon (with the SIMD instruction set it
dispatched to and its threads) or the TypeScript kernels, and when the addon did not load, every
place the loader looked, why each failed, and how to fix it.`,
  options: {},
  examples: ['metatask info', 'METATASK_BACKEND=native metatask info --json'],
  async run(args, io) {
    positionals(args, []);
    const out = new Output(io, args);
    const status = nativeStatus();
    const requested = process.env.METATASK_BACKEND;
    // In auto mode without the addon, the explanation below replaces the fallback warning.
    if (!status.loaded && (requested === undefined || requested === '' || requested === 'auto')) setBackend('js');
    let selected: BackendInfo;
    try {
      selected = backend();
    } catch (err) {
      if (!(err instanceof MetataskError)) throw err;
      if (out.json) out.result({ error: { name: err.name, code: err.code, message: err.message }, native: status }, '');
      io.stderr.write(`metatask: ${err.message}\n`);
      return 1;
    }
    const available = availableBackends();
    const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
    const lines = [`metatask ${pkg.version} on Node.js ${process.version} (${process.platform}-${process.arch})`];
    if (selected.name === 'native') {
      lines.push(`backend:   native ${selected.version}, SIMD ${selected.simd} (this CPU runs ${selected.simdAvailable.join(', ')}), ${selected.threads} threads`);
      lines.push(`huge pages: ${selected.hugePages ? 'advised for new buffers (METATASK_HUGE_PAGES=on)' : 'not advised (METATASK_HUGE_PAGES=on advises them for new buffers)'}`);
    } else {
      lines.push(`backend:   js (the TypeScript kernels${status.loaded ? ', chosen by METATASK_BACKEND=js or --backend js' : ''})`);
      lines.push(`products:  ${selected.wasmSimd ? 'WebAssembly SIMD' : 'plain loops (no WebAssembly SIMD in this engine or CPU, or METATASK_WASM=off)'}`);
    }
    if (status.loaded) {
      lines.push(`addon:     ${status.path ?? 'loaded'}`);
    } else {
      lines.push('addon:     not loaded; the loader looked in:', ...status.attempts.map((a) => `  - ${a}`));
      lines.push(`fix:       ${status.fix}; or set METATASK_BACKEND=js to choose the TypeScript kernels on purpose`);
    }
    lines.push(`available: ${available.join(', ')}`);
    out.result({ ...selected, available, native: status }, lines.join('\n'));
    return 0;
  },
};
