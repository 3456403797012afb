/**
 * A prediction service over node:http: a saved MultiTaskNet answers batches of rows, and a
 * meta-learned model adapts to a posted support set, then predicts its query rows. Bad input gets
 * 400 with the library's own message and error code (the library checks every input: the service
 * only parses JSON). With a WorkerPool the models run on worker threads, so a large batch or a
 * long adaptation never stalls the other requests; without one they run on the event loop.
 *
 *   POST /v1/net/predict    { "X": [[...], ...] }                      -> { "predictions": { task: [...] } }
 *   POST /v1/meta/predict   { "support": { "X": [[...]], "y": [...] },
 *                             "X": [[...]], "steps"?: 10 }             -> { "predictions": [...] }
 *   GET  /health                                                       -> { "ok": true, ... }
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

import { MetataskError, type MAML, type MultiTaskNet, type WorkerPool } from '../../lib/index.js';

export interface ServiceOptions {
  /** The multi-task network answering /v1/net/predict. */
  net: MultiTaskNet;
  /** The meta-learner answering /v1/meta/predict (adapt to the support set, then predict). */
  learner: MAML;
  /** Run the models on this pool's worker threads; absent: on the event loop. */
  pool?: WorkerPool;
  /** Largest request body in bytes. Default 8 MiB. */
  maxBodyBytes?: number;
}

/** A request error with its HTTP status (the library's errors are 400s). */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code = 'ERR_REQUEST',
  ) {
    super(message);
  }
}

async function readJson(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) throw new HttpError(415, 'the body must be JSON (content-type: application/json)');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, `the body is larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new HttpError(400, `the body is not valid JSON: ${(err as Error).message}`, 'ERR_JSON');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'the body must be a JSON object');
  return body as Record<string, unknown>;
}

/** Typed arrays as JSON arrays (a Float32Array would serialise as an object of indices). */
function toPlain(v: unknown): unknown {
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number>);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toPlain(x)]));
  return v;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The service's request handler (exported so that tests and other servers can mount it). */
export function handler(o: ServiceOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const limit = o.maxBodyBytes ?? 8 * 1024 * 1024;
  const worker = o.pool ? { worker: o.pool } : {};
  const routes: Record<string, (body: Record<string, unknown>) => Promise<unknown>> = {
    'POST /v1/net/predict': async (b) => ({ predictions: toPlain(await o.net.predictAsync(b.X, worker)) }),
    'POST /v1/meta/predict': async (b) => {
      const steps = b.steps === undefined ? {} : { steps: b.steps as number };
      return { predictions: toPlain(await o.learner.predictAsync(b.X, { support: b.support as never, ...steps, ...worker })) };
    },
  };
  return (req, res) => {
    const route = `${req.method} ${(req.url ?? '').split('?')[0]}`;
    if (route === 'GET /health') return send(res, 200, { ok: true, pool: o.pool ? { size: o.pool.size, running: o.pool.running, waiting: o.pool.waiting } : null });
    const run = routes[route];
    if (!run) return send(res, 404, { error: { code: 'ERR_NOT_FOUND', message: `no route ${route}; routes: GET /health, ${Object.keys(routes).join(', ')}` } });
    readJson(req, limit)
      .then(run)
      .then(
        (out) => send(res, 200, out),
        (err: unknown) => {
          if (err instanceof HttpError) return send(res, err.status, { error: { code: err.code, message: err.message } });
          // The library's checks of the input: a 400 with its message and stable code. A worker
          // that died (WorkerError) is the server's fault: 503, the pool has replaced it.
          if (err instanceof MetataskError) {
            const status = err.code === 'ERR_WORKER' ? 503 : 400;
            return send(res, status, { error: { code: err.code, name: err.name, message: err.message } });
          }
          send(res, 500, { error: { code: 'ERR_INTERNAL', message: 'internal error' } });
          console.error(err);
        },
      );
  };
}

/** An HTTP server of the service (call listen on it). */
export function createService(o: ServiceOptions): Server {
  return createServer(handler(o));
}
