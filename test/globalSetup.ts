// One Temporal dev server, one PostgreSQL and one Prometheus for the whole test run, shared by every
// test file, and the workflow code bundled once for all of them.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { startTemporalDevServer, type TemporalDevServer } from '../scripts/localTemporal.js';
import { startLocalPostgres, type LocalPostgres } from '../scripts/localPostgres.js';
import { startLocalPrometheus, type LocalPrometheus } from '../scripts/localPrometheus.js';
import { locateSquawk } from '../scripts/squawk.js';
import { bundleForRun, compileRunScripts, type RunScripts } from './helpers/workflowBundles.js';

/**
 * The run's dev server, set for a suite of thousands of short runs on many task queues, each served
 * by one worker: one partition per task queue (not 4: no polls forwarded between partitions), the
 * search attributes read from cache (they are all registered at start; the CLI re-reads them on
 * every read, for attributes added later), and no per-task-queue metric series.
 */
const TEST_SERVER_SETTINGS = {
  'matching.numTaskqueueReadPartitions': 1,
  'matching.numTaskqueueWritePartitions': 1,
  'system.forceSearchAttributesCacheRefreshOnRead': false,
  'metrics.breakdownByTaskQueue': false,
  'metrics.breakdownByPartition': false,
};

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalNamespace: string;
    postgresUrl: string;
    /** The run's Prometheus (scrapes every 1s) and the directory simulated machines register in. */
    prometheusUrl: string;
    prometheusTargetsDir: string;
    /** Flightdeck's workflows bundled once for the run (test/helpers/workflowBundles.ts). */
    workflowBundleForKit: string;
    workflowBundleForProcesses: string;
    /** test/fixtures/workerProcess.ts and cli/main.ts compiled once for the run (plain node starts them). */
    workerProcessScript: string;
    cliScript: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started: Array<TemporalDevServer | LocalPostgres | LocalPrometheus> = [];
  const bundleDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flightdeck-bundles-'));
  let scripts: RunScripts | undefined;
  const stopAll = async () => {
    await Promise.allSettled(started.map((s) => s.stop()));
    fs.rmSync(bundleDir, { recursive: true, force: true });
    scripts?.remove();
  };
  try {
    // The migration linter, on the PATH of test workers and of the workers they start (SQUAWK_PATH's default).
    const squawk = locateSquawk();
    // The simulator's flyctl client (sim/README.md), built once per source change; without Go the
    // simulator runs flyctl as a node process per call.
    execFileSync('bash', [fileURLToPath(new URL('../scripts/flyctl-client.sh', import.meta.url)), '--optional'], { stdio: ['ignore', 'ignore', 'inherit'] });
    process.env.PATH = `${path.dirname(squawk)}${path.delimiter}${process.env.PATH ?? ''}`;
    const [temporal, postgresUrl, prometheus, bundles] = await Promise.all([
      startTemporalDevServer({ dynamicConfig: TEST_SERVER_SETTINGS }).then((server) => { started.push(server); return server; }),
      process.env.TEST_DATABASE_URL
        ? Promise.resolve(process.env.TEST_DATABASE_URL)
        : startLocalPostgres().then((server) => { started.push(server); return server.url; }),
      startLocalPrometheus().then((server) => { started.push(server); return server; }),
      bundleForRun(bundleDir),
    ]);
    scripts = await compileRunScripts();
    project.provide('temporalAddress', temporal.address);
    project.provide('temporalNamespace', temporal.namespace);
    project.provide('postgresUrl', postgresUrl);
    project.provide('prometheusUrl', prometheus.url);
    project.provide('prometheusTargetsDir', prometheus.targetsDir);
    project.provide('workflowBundleForKit', bundles.withTestInterceptors);
    project.provide('workflowBundleForProcesses', bundles.plain);
    project.provide('workerProcessScript', scripts.workerProcess);
    project.provide('cliScript', scripts.cli);
    console.log(`test servers: Temporal ${temporal.address}, PostgreSQL ${new URL(postgresUrl).host}, Prometheus ${new URL(prometheus.url).host}`);
  } catch (err) {
    await stopAll();
    throw new Error(`Test setup failed. ${(err as Error).message}`);
  }
  return stopAll;
}
