/**
 * A throwaway Redis server on loopback and `metatask worker` processes on it, for the queue tests
 * and the queue bench: redis-server on a free port without persistence, workers started and
 * stopped by process id. Everything it starts, it stops.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';

import { packageRoot } from '../lib/kernels/native.js';

export interface Worker {
  child: ChildProcess;
  /** What the worker printed (one line per job: "done <label>" or "failed <label>"). */
  output(): string;
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux; NaN elsewhere). */
export function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime and stime are fields 14 and 15 of stat (11 and 12 after the command), in clock ticks (100 Hz on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/** Whether redis-server is on the PATH (CI installs Debian's redis-server). */
export function haveRedis(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

export class RedisCluster {
  readonly workers: Worker[] = [];
  private constructor(
    readonly url: string,
    private readonly redis: ChildProcess,
  ) {}

  /** Start redis-server on a free loopback port (no RDB, no AOF) and wait until it accepts connections. */
  static async start(): Promise<RedisCluster> {
    if (!haveRedis()) throw new Error('redis-server is not installed (Debian: apt-get install redis-server); the queue tests and bench need it');
    const port = await freePort();
    const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !(await accepts(port)); i++) await new Promise((r) => setTimeout(r, 50));
    if (!(await accepts(port))) {
      redis.kill();
      throw new Error(`redis-server did not start on port ${port}`);
    }
    return new RedisCluster(`redis://127.0.0.1:${port}`, redis);
  }

  /**
   * Start a `metatask worker` process on `queue`; resolves once it waits for jobs. `session`
   * starts it in a session of its own, as a separately deployed service runs: Linux schedules
   * the processes of one session as one group (autogroup), so workers sharing the caller's
   * session share its slice of a busy machine.
   */
  async startWorker(queue: string, args: string[] = [], env: Record<string, string> = {}, session = false): Promise<Worker> {
    const cli = join(packageRoot(), 'dist', 'lib', 'cli', 'main.js');
    const child = spawn(process.execPath, [cli, 'worker', '--redis', this.url, '--queue', queue, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
      detached: session,
    });
    let out = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    const w: Worker = { child, output: () => out };
    this.workers.push(w);
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (out.includes('waiting for jobs')) resolve();
        else if (child.exitCode !== null) reject(new Error(`the worker exited (${child.exitCode}): ${out}`));
        else setTimeout(check, 20);
      };
      check();
    });
    return w;
  }

  /** Kill one worker at once (SIGKILL: no goodbye, as a crashed machine). */
  kill(w: Worker): Promise<void> {
    return new Promise((resolve) => {
      if (w.child.exitCode !== null || w.child.signalCode !== null) return resolve();
      w.child.once('exit', () => resolve());
      w.child.kill('SIGKILL');
    });
  }

  /** Stop every worker (SIGTERM, then SIGKILL after 2 s) and the Redis server. */
  async stop(): Promise<void> {
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.child.exitCode !== null || w.child.signalCode !== null) return resolve();
            const t = setTimeout(() => w.child.kill('SIGKILL'), 2000);
            w.child.once('exit', () => {
              clearTimeout(t);
              resolve();
            });
            w.child.kill('SIGTERM');
          }),
      ),
    );
    await new Promise<void>((resolve) => {
      if (this.redis.exitCode !== null) return resolve();
      this.redis.once('exit', () => resolve());
      this.redis.kill('SIGTERM');
    });
  }
}
