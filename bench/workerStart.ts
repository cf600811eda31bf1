// Worker start benchmark: `npm run build && npx tsx bench/workerStart.ts` (about a minute on 2 cores).
// Starts the built worker (`node dist/worker/main.js`) against a Temporal dev server, first with the
// prebuilt workflow bundle that `npm run build` writes (dist/workflow-bundle.js), then without it
// (the worker bundles the workflows at start, as every start did before), and times each from
// process start to polling ("worker running" in its log). BENCH_RUNS (default 3) per variant.
// Prints figures; it passes or fails nothing.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTemporalDevServer } from '../scripts/localTemporal.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const WORKER = fileURLToPath(new URL('../dist/worker/main.js', import.meta.url));
const BUNDLE = fileURLToPath(new URL('../dist/workflow-bundle.js', import.meta.url));

/** Milliseconds from spawning the worker to its "worker running" line; then stops it gracefully. */
async function timeWorkerStart(env: Record<string, string>): Promise<number> {
  const startedAt = performance.now();
  const child = spawn(process.execPath, [WORKER], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pollingAfterMs = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('worker running')) resolve(performance.now() - startedAt);
    });
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    void exited.then(() => reject(new Error(`the worker exited before polling: ${output.slice(-2000)}`)));
  });
  child.kill('SIGTERM');
  await exited;
  return pollingAfterMs;
}

function summary(samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  return `median ${(median / 1000).toFixed(1)} s (runs: ${samples.map((ms) => (ms / 1000).toFixed(1)).join(', ')} s)`;
}

async function main(): Promise<void> {
  if (!fs.existsSync(WORKER) || !fs.existsSync(BUNDLE)) throw new Error('run `npm run build` first: it writes dist/worker/main.js and dist/workflow-bundle.js');
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'flightdeck-bench-worker-'));
  const server = await startTemporalDevServer();
  const hiddenBundle = `${BUNDLE}.hidden`;
  try {
    const configPath = path.join(scratch, 'flightdeck.yaml');
    fs.writeFileSync(configPath, 'apps: {}\n');
    const env = {
      TEMPORAL_ADDRESS: server.address, TEMPORAL_NAMESPACE: server.namespace, TEMPORAL_TASK_QUEUE: 'bench-worker-start',
      FLIGHTDECK_CONFIG: configPath, FLIGHTDECK_WORK_DIR: path.join(scratch, 'work'), LOG_LEVEL: 'info',
    };
    const prebuilt: number[] = [];
    for (let run = 0; run < RUNS; run++) prebuilt.push(await timeWorkerStart(env));
    fs.renameSync(BUNDLE, hiddenBundle);
    const bundledAtStart: number[] = [];
    for (let run = 0; run < RUNS; run++) bundledAtStart.push(await timeWorkerStart(env));
    console.log(`worker start to polling, ${os.cpus().length} CPUs, load average ${os.loadavg()[0]!.toFixed(1)}:`);
    console.log(`  bundling the workflows at start (before): ${summary(bundledAtStart)}`);
    console.log(`  prebuilt bundle (npm run build):          ${summary(prebuilt)}`);
  } finally {
    if (fs.existsSync(hiddenBundle)) fs.renameSync(hiddenBundle, BUNDLE);
    await server.stop();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

await main();
