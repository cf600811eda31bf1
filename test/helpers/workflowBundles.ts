// The workflow code every test worker runs, bundled once per test run (test/globalSetup.ts) instead
// of once per test file: bundling costs seconds of CPU, and the suite has dozens of files.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
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
