// The task queues one Flightdeck deployment uses, by kind of work, so that a 12-hour dump or twenty
// rollouts never take the slots a health probe, a Slack update or a ledger write needs:
//   <queue>            workflows and short activities (probes, flyctl reads, Slack, ledger, config)
//   <queue>-deploys    builds and rollouts (fly deploy), minutes each
//   <queue>-database   dumps, restores, verifications and migrations, minutes to hours each
//   runner             checkouts, tests and smoke commands, on a secretless worker (opt-in)
// Workflows learn the names from the targets their first activity resolves (lib/config.ts env), so
// activities built without these variables (tests) keep everything on the workflow's own queue.
import type { EnvConfig } from '../lib/config.js';

export interface TaskQueues {
  workflows: string;
  deploys: string;
  database: string;
  runner?: string;
}

/** The production worker's queues: the named ones, or <TEMPORAL_TASK_QUEUE>-deploys and -database. */
export function taskQueuesOf(env: EnvConfig): TaskQueues {
  return {
    workflows: env.TEMPORAL_TASK_QUEUE,
    deploys: env.FLIGHTDECK_DEPLOY_TASK_QUEUE ?? `${env.TEMPORAL_TASK_QUEUE}-deploys`,
    database: env.FLIGHTDECK_DATABASE_TASK_QUEUE ?? `${env.TEMPORAL_TASK_QUEUE}-database`,
    ...(env.FLIGHTDECK_RUNNER_TASK_QUEUE ? { runner: env.FLIGHTDECK_RUNNER_TASK_QUEUE } : {}),
  };
}

/** The environment the worker's activities read: every queue named, so targets route by kind. */
export function withTaskQueues(env: EnvConfig, queues: TaskQueues): EnvConfig {
  return { ...env, FLIGHTDECK_DEPLOY_TASK_QUEUE: queues.deploys, FLIGHTDECK_DATABASE_TASK_QUEUE: queues.database };
}
