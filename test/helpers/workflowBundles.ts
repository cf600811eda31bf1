// The workflow code every test worker runs, bundled once per test run (test/globalSetup.ts) instead
// of once per test file: bundling costs seconds of CPU, and the suite has dozens of files. Likewise
// the worker-process entry point, compiled once to plain JavaScript.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import esbuild from 'esbuild';
import { workflowInterceptorModules } from '@temporalio/testing';

/** Flightdeck's workflows, as the worker bundles them (worker/workflowsPath.ts). */
export const FLIGHTDECK_WORKFLOWS = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

export interface RunBundles {
  /** For in-process test workers: with the test kit's interceptors (a failed workflow assertion fails the run). */
  withTestInterceptors: string;
  /** For worker processes: exactly what the production worker runs. */
  plain: string;
}

/** Bundles Flightdeck's workflows both ways into dir; the paths go to test files via provide(). */
export async function bundleForRun(dir: string): Promise<RunBundles> {
  const logger = new DefaultLogger('WARN');
  const withTest = await bundleWorkflowCode({ workflowsPath: FLIGHTDECK_WORKFLOWS, workflowInterceptorModules, logger });
  const plain = await bundleWorkflowCode({ workflowsPath: FLIGHTDECK_WORKFLOWS, logger });
  const bundles = { withTestInterceptors: path.join(dir, 'workflows-test.js'), plain: path.join(dir, 'workflows.js') };
  fs.writeFileSync(bundles.withTestInterceptors, withTest.code);
  fs.writeFileSync(bundles.plain, plain.code);
  return bundles;
}

const WORKER_PROCESS_ENTRY = fileURLToPath(new URL('../fixtures/workerProcess.ts', import.meta.url));
/** Inside the project, so the compiled script's imports resolve from its node_modules. */
const WORKER_PROCESS_CACHE = fileURLToPath(new URL('../../node_modules/.cache/flightdeck-tests', import.meta.url));

/**
 * Compiles the worker-process entry (test/fixtures/workerProcess.ts) and the Flightdeck code it
 * imports into one JavaScript file, packages left as imports. Started through tsx instead, every
 * worker process would compile and resolve the project's TypeScript on start: about 4 s of CPU
 * against about 1.7 s. Returns the script and a function that removes it.
 */
export async function compileWorkerProcess(): Promise<{ script: string; remove: () => void }> {
  fs.mkdirSync(WORKER_PROCESS_CACHE, { recursive: true });
  const dir = fs.mkdtempSync(path.join(WORKER_PROCESS_CACHE, 'run-'));
  const script = path.join(dir, 'workerProcess.mjs');
  await esbuild.build({
    entryPoints: [WORKER_PROCESS_ENTRY], outfile: script, bundle: true, packages: 'external',
    platform: 'node', format: 'esm', target: `node${process.versions.node.split('.')[0]}`, logLevel: 'error',
  });
  return { script, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
