#!/usr/bin/env node
/**
 * The `metatask` command. `metatask info` prints the backend in use and why native is missing
 * when it is; `metatask --help` lists the commands.
 */
import { availableBackends, backend } from '../kernels/index.js';
import { loadAddon } from '../kernels/native.js';
import { workerCommand } from '../distributed/workerCommand.js';

const usage = `usage: metatask <command>

commands:
  info      the backend in use (native or js), its version, SIMD sets and threads
  worker    run jobs of a queue on Redis (metatask worker --help)
  help      this text`;

export function main(argv: string[]): number | Promise<number> {
  const [command] = argv;
  switch (command) {
    case 'worker':
      return workerCommand(argv.slice(1));
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

void Promise.resolve(main(process.argv.slice(2))).then((code) => {
  process.exitCode = code;
});
