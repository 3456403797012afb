#!/usr/bin/env node
/**
 * The `metatask` command: `metatask <command> [options]` runs one of the commands of
 * commands/index.ts; `metatask --help` lists them, `metatask <command> --help` explains one,
 * `metatask --version` prints the package version. Exit codes: 0 success, 1 the work failed (bad
 * data, a missing file: the message says what and where), 2 a mistake in the command line.
 *
 * Importing this module runs nothing: `main(argv, io)` is called only when the file is the
 * program node was started with (so tests and other programs can import it).
 */
import { readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { MetataskError } from '../core/errors.js';
import { closestName } from '../core/suggest.js';
import { packageRoot } from '../kernels/native.js';
import { CliError, commandHelp, parseCommandArgs, UsageError, type CliIo, type Command } from './command.js';
import { COMMANDS } from './commands/index.js';

function version(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/** `metatask --help`: the commands with their one-line summaries. */
export function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return [
    'usage: metatask <command> [options]',
    '',
    'Multi-task learning and meta-learning from the command line: fit a model on a CSV or JSON',
    'table, predict with it, evaluate it per task, time it, and see which backend runs it.',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    "'metatask <command> --help' explains a command and its options; 'metatask --version' prints the version.",
    '',
  ].join('\n');
}

const processIo: CliIo = { stdout: process.stdout, stderr: process.stderr };

/** Run the command line `argv` (without node and the script); resolves to the exit code. */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    const topic = name === 'help' ? rest[0] : undefined;
    const command = topic === undefined ? undefined : COMMANDS.find((c) => c.name === topic);
    io.stdout.write(command ? commandHelp(command) : usage());
    return 0;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    io.stdout.write(`${version()}\n`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    const hint = closestName(name, COMMANDS.map((c) => c.name));
    const what = name.startsWith('-') ? `unknown option '${name}'` : `unknown command '${name}'`;
    io.stderr.write(`metatask: ${what}${hint ? ` (did you mean '${hint}'?)` : ''}\n\n${usage()}`);
    return 2;
  }
  return runCommand(command, rest, io);
}

async function runCommand(command: Command, argv: readonly string[], io: CliIo): Promise<number> {
  const where = `metatask ${command.name}`;
  let json = false;
  try {
    const args = parseCommandArgs(command, argv);
    json = args.values.json === true;
    if (args.values.help === true) {
      io.stdout.write(commandHelp(command));
      return 0;
    }
    return await command.run(args, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`${where}: ${err.message}\nusage: ${command.usage}\nrun '${where} --help' for its options\n`);
      return 2;
    }
    if (!(err instanceof MetataskError || err instanceof CliError)) throw err;
    // A library error (bad data, a bad option value, a corrupted model file) or a file that cannot
    // be read or written: the message says what and where; a stack trace would not help.
    if (json) io.stdout.write(`${JSON.stringify({ error: { name: err.name, code: err instanceof MetataskError ? err.code : 'ERR_CLI', message: err.message } }, null, 2)}\n`);
    io.stderr.write(`${where}: ${err.message}\n`);
    return 1;
  }
}

/** Whether this module is the program node was started with (through a symlink too, as npm's bin links are). */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  // `metatask predict ... | head`: the reader left; stop quietly, as other command-line tools do.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      // A bug, not a user's mistake: the stack helps whoever fixes it.
      process.stderr.write(`metatask: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 70;
    },
  );
}
