// Worker start benchmark: `npx tsx bench/workerStart.ts` (about a minute on 2 cores).
// Builds the worker as `npm run build` does (bench/workerProcess.ts) and starts it against a Temporal
// dev server, first with the prebuilt workflow bundle the build writes (workflow-bundle.js), then without it
// (the worker bundles the workflows at start, as every start did before), and times each from
// process start to polling ("worker running" in its log). BENCH_RUNS (default 3) per variant.
// Prints figures; it passes or fails nothing.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTemporalDevServer } from '../scripts/localTemporal.js';
import { buildWorker, startWorkerProcess, type BuiltWorker } from './workerProcess.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);

/** Milliseconds from spawning the worker to its "worker running" line; then stops it gracefully. */
async function timeWorkerStart(built: BuiltWorker, env: Record<string, string>): Promise<number> {
  const worker = await startWorkerProcess(built, env);
  await worker.stop();
  return worker.readyAfterMs;
}

function summary(samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  return `median ${(median / 1000).toFixed(1)} s (runs: ${samples.map((ms) => (ms / 1000).toFixed(1)).join(', ')} s)`;
}

async function main(): Promise<void> {
  const built = buildWorker();
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'flightdeck-bench-worker-'));
  const server = await startTemporalDevServer();
  const hiddenBundle = `${built.bundle}.hidden`;
  try {
    const configPath = path.join(scratch, 'flightdeck.yaml');
    fs.writeFileSync(configPath, 'apps: {}\n');
    const env = {
      TEMPORAL_ADDRESS: server.address, TEMPORAL_NAMESPACE: server.namespace, TEMPORAL_TASK_QUEUE: 'bench-worker-start',
      FLIGHTDECK_CONFIG: configPath, FLIGHTDECK_WORK_DIR: path.join(scratch, 'work'), LOG_LEVEL: 'info',
    };
    const prebuilt: number[] = [];
    for (let run = 0; run < RUNS; run++) prebuilt.push(await timeWorkerStart(built, env));
    fs.renameSync(built.bundle, hiddenBundle);
    const bundledAtStart: number[] = [];
    for (let run = 0; run < RUNS; run++) bundledAtStart.push(await timeWorkerStart(built, env));
    console.log(`worker start to polling, ${os.cpus().length} CPUs, load average ${os.loadavg()[0]!.toFixed(1)}:`);
    console.log(`  bundling the workflows at start (before): ${summary(bundledAtStart)}`);
    console.log(`  prebuilt bundle (npm run build):          ${summary(prebuilt)}`);
  } finally {
    if (fs.existsSync(hiddenBundle)) fs.renameSync(hiddenBundle, built.bundle);
    await server.stop();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

await main();
