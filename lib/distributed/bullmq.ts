/**
 * BullMQ, loaded only when a queue is used: it (with its Redis client, ioredis) is an optional
 * peer dependency, so that the library installs and runs without it. A missing package is a
 * ConfigError saying what to install.
 */
import { ConfigError } from '../core/errors.js';

/** The parts of BullMQ this library uses (typed loosely: the package may be absent at build time). */
export interface BullMQ {
  Queue: new (name: string, opts: Record<string, unknown>) => BullQueue;
  QueueEvents: new (name: string, opts: Record<string, unknown>) => BullQueueEvents;
  Worker: new (name: string, processor: (job: BullJob) => Promise<unknown>, opts: Record<string, unknown>) => BullWorker;
  UnrecoverableError: new (message: string) => Error;
}

export interface BullJob {
  id?: string;
  name: string;
  data: unknown;
  attemptsMade: number;
  /** Times a worker started the job, this one included (a job taken again after its worker died counts 2). */
  attemptsStarted?: number;
  updateProgress(progress: object | number): Promise<void>;
  waitUntilFinished(events: BullQueueEvents, ttl?: number): Promise<unknown>;
  remove(): Promise<void>;
}

export interface BullQueue {
  setMaxListeners(n: number): unknown;
  addBulk(jobs: { name: string; data: unknown; opts?: Record<string, unknown> }[]): Promise<BullJob[]>;
  getJob(id: string): Promise<BullJob | undefined>;
  waitUntilReady(): Promise<unknown>;
  close(): Promise<void>;
}

export interface BullQueueEvents {
  setMaxListeners(n: number): unknown;
  waitUntilReady(): Promise<unknown>;
  on(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener: (...args: any[]) => void): unknown;
  close(): Promise<void>;
}

export interface BullWorker {
  on(event: string, listener: (...args: any[]) => void): unknown;
  waitUntilReady(): Promise<unknown>;
  close(force?: boolean): Promise<void>;
}

let loaded: Promise<BullMQ> | undefined;

export function loadBullMQ(): Promise<BullMQ> {
  loaded ??= import('bullmq' as string).then(
    (m) => m as BullMQ,
    (err: unknown) => {
      loaded = undefined;
      throw new ConfigError(
        `metatask's job queue needs the optional package bullmq (with its Redis client ioredis), which is not installed: npm install bullmq ` +
          `(${(err as Error).message})`,
      );
    },
  );
  return loaded;
}

/**
 * ioredis connection options from a Redis URL: redis://[user:password@]host[:port][/db], or
 * rediss:// for TLS. BullMQ's workers need maxRetriesPerRequest null (they block on Redis).
 */
export function connectionOf(url: string): Record<string, unknown> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(`the Redis URL '${url}' is not a URL; expected redis://host:6379`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new ConfigError(`the Redis URL '${url}' must start with redis:// or rediss://`);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new ConfigError(`the Redis URL '${url}' names database '${u.pathname.slice(1)}'; expected a number`);
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    db,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
  };
}
