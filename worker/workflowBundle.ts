// The workflow code a worker runs, bundled once at build time (`npm run build` writes
// dist/workflow-bundle.js) instead of at every worker start: bundling takes tens of seconds on a
// small VM, and a worker that restarts mid-deploy should be polling again in seconds.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { WorkerOptions } from '@temporalio/worker';
import { workflowsPath } from './workflowsPath.js';

/** Next to the compiled code: dist/workflow-bundle.js for dist/worker/*.js. */
export const WORKFLOW_BUNDLE_FILE = fileURLToPath(new URL('../workflow-bundle.js', import.meta.url));

/**
 * The prebuilt bundle when the build made one; otherwise (running from source) the workflows are
 * bundled at start, and `onFallback` says so.
 */
export function workflowCode(onFallback: (message: string) => void): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  if (fs.existsSync(WORKFLOW_BUNDLE_FILE)) return { workflowBundle: { codePath: WORKFLOW_BUNDLE_FILE } };
  onFallback(`no prebuilt workflow bundle at ${WORKFLOW_BUNDLE_FILE} (npm run build writes it): bundling the workflows now, which delays polling`);
  return { workflowsPath: workflowsPath() };
}
