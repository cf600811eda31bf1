// Run listing benchmark: `npx tsx bench/runListing.ts` (under a minute on 2 cores).
// On a fresh Temporal dev server, starts BENCH_RUNS runs (default 2000, on a task queue no worker polls:
// listing needs no worker) spread over 100 app environments: half tagged with Flightdeck's search
// attributes (lib/runSearchAttributes.ts), half without, as runs started before them are. Then times
// what `flightdeck history <app> <env>`, `flightdeck status <app> <env>` and GET /runs do (lib/runHistory.ts):
// one app environment's newest 20 runs, by attributes and, for the untagged half, by type and id prefix.
// Prints figures; it passes or fails nothing.
import { Client, Connection } from '@temporalio/client';
import { listRuns, type RunFilter } from '../lib/runHistory.js';
import { runSearchAttributes } from '../lib/runSearchAttributes.js';
import { startTemporalDevServer } from '../scripts/localTemporal.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 2000);
const ENVIRONMENTS = 100;
const REPEATS = 30;
const START_CONCURRENCY = 20;

async function main(): Promise<void> {
  const temporal = await startTemporalDevServer();
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection, namespace: temporal.namespace });
  try {
    const started = Date.now();
    await startRuns(client);
    console.log(`${RUNS} runs started in ${((Date.now() - started) / 1000).toFixed(1)} s over ${ENVIRONMENTS} app environments`);
    const perEnvironment = RUNS / ENVIRONMENTS;
    await waitUntilVisible(client, { app: 'app-0', environment: 'production', limit: perEnvironment }, perEnvironment);
    await waitUntilVisible(client, { app: `app-${ENVIRONMENTS - 1}`, environment: 'production', limit: perEnvironment }, perEnvironment);
    for (const [label, filter] of [
      ['tagged app environment (search attributes)', { app: 'app-0', environment: 'production', limit: 20 }],
      ['untagged app environment (id prefix)', { app: `app-${ENVIRONMENTS - 1}`, environment: 'production', limit: 20 }],
      ['tagged app, running only, limit 1 (status)', { app: 'app-0', environment: 'production', isRunning: true, limit: 1 }],
    ] as Array<[string, RunFilter]>) {
      const times: number[] = [];
      let count = 0;
      for (let i = 0; i < REPEATS; i++) {
        const before = performance.now();
        count = (await listRuns(client, filter)).length;
        times.push(performance.now() - before);
      }
      times.sort((a, b) => a - b);
      console.log(`${label}: ${count} runs, median ${times[Math.floor(REPEATS / 2)]!.toFixed(1)} ms, p90 ${times[Math.floor(REPEATS * 0.9)]!.toFixed(1)} ms`);
    }
  } finally {
    await connection.close();
    await temporal.stop();
  }
}

async function startRuns(client: Client): Promise<void> {
  let next = 0;
  const startOne = async (i: number) => {
    const environmentIndex = i % ENVIRONMENTS;
    const app = `app-${environmentIndex}`;
    const isTagged = environmentIndex < ENVIRONMENTS / 2;
    await client.workflow.start('deployPipeline', {
      workflowId: `deploy/${app}/production/${i.toString(16).padStart(7, '0')}-bench`,
      taskQueue: 'bench-no-worker',
      args: [],
      ...(isTagged ? { typedSearchAttributes: runSearchAttributes({ kind: 'deploy', app, environment: 'production' }) } : {}),
    });
  };
  await Promise.all(Array.from({ length: START_CONCURRENCY }, async () => {
    while (next < RUNS) await startOne(next++);
  }));
}

async function waitUntilVisible(client: Client, filter: RunFilter, count: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while ((await listRuns(client, filter)).length < count) {
    if (Date.now() > deadline) throw new Error(`runs of ${filter.app} not visible within 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
