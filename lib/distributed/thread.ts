/**
 * The program of a WorkerPool thread (lib/parallel/pool.ts starts it by its URL): the library
 * with every class a call may need, serving calls on the thread's port.
 */
import { serveThread } from '../parallel/thread.js';
import { classRegistry } from './registry.js';

serveThread(classRegistry());
