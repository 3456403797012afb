/**
 * Start the example prediction service:
 *
 *   node dist/examples/serve/main.js [--port 8080] [--host 127.0.0.1] [--pool N] [--models DIR]
 *
 * --pool N runs the models on N worker threads (0: on the event loop; default 0). --models is
 * where the model files are (trained there first when absent; default: a folder in the system's
 * temporary directory). Prints one line "listening on http://host:port" when ready.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { WorkerPool } from '../../lib/index.js';
import { loadModels } from './models.js';
import { createService } from './server.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8080' },
    host: { type: 'string', default: '127.0.0.1' },
    pool: { type: 'string', default: '0' },
    models: { type: 'string', default: join(tmpdir(), 'metatask-serve-models') },
  },
});
const size = Number(values.pool);
if (!Number.isInteger(size) || size < 0) throw new Error(`--pool must be a non-negative integer, got ${values.pool}`);

const { net, learner } = await loadModels(values.models!);
const pool = size > 0 ? new WorkerPool({ size }) : undefined;
const server = createService({ net, learner, ...(pool ? { pool } : {}) });
server.listen(Number(values.port), values.host, () => {
  const a = server.address();
  const port = a && typeof a === 'object' ? a.port : values.port;
  console.log(`listening on http://${values.host}:${port}${pool ? ` (models on ${size} worker thread${size > 1 ? 's' : ''})` : ''}`);
});
const stop = (): void => {
  server.close();
  void pool?.terminate();
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
