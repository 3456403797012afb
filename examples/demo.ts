/**
 * `npm run demo`: the parts of the demo, run in order. Each part is a module in examples/demo/
 * exporting `title` and `run(log)`; add a part by adding it to `parts`.
 */
import * as school from './demo/school.js';
import * as sarcos from './demo/sarcos.js';
import * as sinusoid from './demo/sinusoid.js';
import * as schoolFewShot from './demo/schoolFewShot.js';
import * as omniglotConv from './demo/omniglotConv.js';
import * as structuredModels from './demo/structuredModels.js';

interface Part {
  title: string;
  run(log: (line: string) => void): Promise<void>;
}

const parts: Part[] = [school, sarcos, sinusoid, schoolFewShot, structuredModels, omniglotConv];

for (const [i, part] of parts.entries()) {
  console.log(`\n=== Part ${i + 1}/${parts.length}: ${part.title} ===\n`);
  const t0 = performance.now();
  await part.run((line) => console.log(line));
  console.log(`\n(part ${i + 1} took ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}
