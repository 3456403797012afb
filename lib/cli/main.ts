#!/usr/bin/env node
/**
 * The `metatask` command. `metatask info` prints the backend in use and why native is missing
 * when it is, with how to fix it; `metatask --help` lists the commands.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { MetataskError } from '../core/errors.js';
import { availableBackends, backend, nativeStatus, setBackend } from '../kernels/index.js';
import { packageRoot } from '../kernels/native.js';
import type { BackendInfo } from '../kernels/types.js';

const usage = `usage: metatask <command>

commands:
  info [--json]  the backend in use (native or js), its SIMD level and threads, and why the
                 native addon is missing when it is, with how to fix it
  help           this text`;

/**
 * `metatask info`: the same explanation as the fallback warning, readable (or one JSON object on
 * stdout with --json). When the native backend is demanded (METATASK_BACKEND=native) and missing,
 * the BackendError's explanation goes to stderr and the exit code is 1.
 */
function info(args: string[]): number {
  const unknown = args.filter((a) => a !== '--json');
  if (unknown.length > 0) {
    console.error(`metatask info: unknown option '${unknown[0]}'\n${usage}`);
    return 2;
  }
  const json = args.includes('--json');
  const status = nativeStatus();
  const requested = process.env.METATASK_BACKEND;
  // In auto mode without the addon, the explanation below replaces the fallback warning.
  if (!status.loaded && (requested === undefined || requested === '' || requested === 'auto')) setBackend('js');
  let selected: BackendInfo;
  try {
    selected = backend();
  } catch (err) {
    if (!(err instanceof MetataskError)) throw err;
    if (json) console.log(JSON.stringify({ error: { name: err.name, code: err.code, message: err.message }, native: status }, null, 2));
    else console.error(`metatask: ${err.message}`);
    return 1;
  }
  const available = availableBackends();
  if (json) {
    console.log(JSON.stringify({ ...selected, available, native: status }, null, 2));
    return 0;
  }
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  const lines = [`metatask ${pkg.version} on Node.js ${process.version} (${process.platform}-${process.arch})`];
  if (selected.name === 'native') {
    lines.push(`backend:   native ${selected.version}, SIMD ${selected.simd} (this CPU runs ${selected.simdAvailable.join(', ')}), ${selected.threads} threads`);
  } else {
    lines.push(`backend:   js (the TypeScript kernels${status.loaded ? ', chosen by METATASK_BACKEND=js or setBackend' : ''})`);
  }
  if (status.loaded) {
    lines.push(`addon:     ${status.path ?? 'loaded'}`);
  } else {
    lines.push('addon:     not loaded; the loader looked in:', ...status.attempts.map((a) => `  - ${a}`));
    lines.push(`fix:       ${status.fix}; or set METATASK_BACKEND=js to choose the TypeScript kernels on purpose`);
  }
  lines.push(`available: ${available.join(', ')}`);
  console.log(lines.join('\n'));
  return 0;
}

export function main(argv: string[]): number {
  const [command] = argv;
  switch (command) {
    case 'info':
      return info(argv.slice(1));
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(usage);
      return 0;
    default:
      console.error(`metatask: unknown command '${command}'\n${usage}`);
      return 2;
  }
}

process.exitCode = main(process.argv.slice(2));
