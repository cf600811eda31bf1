// The benchmarks' workers load a prebuilt workflow bundle, as the production worker does
// (worker/workflowBundle.ts), instead of bundling in their own process: webpack's heap would stay in
// the process and count in the worker's RSS the benchmarks report.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WorkflowBundleOption } from '@temporalio/worker';

const BUNDLER = fileURLToPath(new URL('../worker/bundleWorkflows.ts', import.meta.url));

/** Bundles Flightdeck's workflows in a child process into dir and returns the bundle to load. */
export function prebuiltWorkflowBundle(dir: string): WorkflowBundleOption {
  const codePath = path.join(dir, 'workflow-bundle.js');
  execFileSync(process.execPath, ['--import', 'tsx', BUNDLER, codePath], { stdio: ['ignore', 'ignore', 'inherit'] });
  return { codePath };
}
