#!/usr/bin/env node
/**
 * The `metatask` command. `metatask info` prints the backend in use and why native is missing
 * when it is; `metatask --help` lists the commands.
 */
import { availableBackends, backend } from '../kernels/index.js';
import { loadAddon } from '../kernels/native.js';

const usage = `usage: metatask <command>

commands:
  info      the backend in use (native or js), its version, SIMD sets and threads
  help      this text`;

export function main(argv: string[]): number {
  const [command] = argv;
  switch (command) {
    case 'info': {
      const info = backend();
      console.log(JSON.stringify({ ...info, available: availableBackends() }, null, 2));
      if (info.name === 'js' && !availableBackends().includes('native')) {
        console.log('native addon not loaded:');
        for (const a of loadAddon().attempts) console.log(`  - ${a}`);
      }
      return 0;
    }
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
