// How much one worker takes on at once, from the environment (lib/config.ts, README "Scaling"). The
// production worker, the test worker process and the benchmark all use it, so the figures measured are
// those of the settings shipped.
import type { WorkerOptions } from '@temporalio/worker';
import type { EnvConfig } from '../lib/config.js';

export type WorkerTuning = Pick<WorkerOptions, 'maxConcurrentActivityTaskExecutions' | 'maxConcurrentWorkflowTaskExecutions' | 'maxCachedWorkflows'>;

export function workerTuning(env: EnvConfig): WorkerTuning {
  return {
    maxConcurrentActivityTaskExecutions: env.FLIGHTDECK_WORKER_MAX_ACTIVITIES,
    // With a cache, it must hold at least the tasks in flight (the SDK refuses fewer).
    maxConcurrentWorkflowTaskExecutions: env.FLIGHTDECK_WORKER_MAX_CACHED_WORKFLOWS === 0
      ? env.FLIGHTDECK_WORKER_MAX_WORKFLOW_TASKS
      : Math.min(env.FLIGHTDECK_WORKER_MAX_WORKFLOW_TASKS, env.FLIGHTDECK_WORKER_MAX_CACHED_WORKFLOWS),
    maxCachedWorkflows: env.FLIGHTDECK_WORKER_MAX_CACHED_WORKFLOWS,
  };
}
