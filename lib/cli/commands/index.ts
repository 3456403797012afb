/**
 * Every command of `metatask`, in the order `metatask --help` lists them. A new command is one
 * file in this folder exporting a Command, and one entry here.
 */
import type { Command } from '../command.js';
import { bench } from './bench.js';
import { evaluate } from './evaluate.js';
import { fit } from './fit.js';
import { info } from './info.js';
import { predict } from './predict.js';
import { worker } from './worker.js';

export const COMMANDS: readonly Command[] = [fit, predict, evaluate, bench, info, worker];
