// Timeouts and retry policies, by kind of activity. One place to tune how patient Flightdeck is.
import type { ActivityOptions, LocalActivityOptions } from '@temporalio/workflow';
import { PermanentError } from '../lib/errors.js';

const transientRetry = { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5 };

/** Quick flyctl reads (status, secrets, releases, checks): retried through 429s and resets. */
export const flyReadOptions: ActivityOptions = { startToCloseTimeout: '2m', heartbeatTimeout: '30s', retry: transientRetry };

/**
 * `fly deploy`: a retry after a lost worker resumes the rollout under way (see activities/fly.ts),
 * and the activity bounds itself by a budget derived from the strategy, the machines and the
 * timeouts (which this workflow does not know), so start-to-close is only a backstop. Heartbeats
 * every second; 20 s without one means the worker is gone (and a cancel reaches it within ~16 s).
 */
export function flyDeployOptions(waitTimeoutMs: number): ActivityOptions {
  return { startToCloseTimeout: Math.max(2 * 3_600_000, 60 * waitTimeoutMs), heartbeatTimeout: '20s', retry: { ...transientRetry, maximumAttempts: 4 } };
}

/** Build: one retry for a flaky builder. */
export const buildOptions: ActivityOptions = { startToCloseTimeout: '30m', heartbeatTimeout: '30s', retry: { ...transientRetry, maximumAttempts: 2 } };

/** Checkouts: a failed clone is retried once. */
export function commandOptions(timeoutMs: number): ActivityOptions {
  return { startToCloseTimeout: timeoutMs + 60_000, heartbeatTimeout: '30s', retry: { ...transientRetry, maximumAttempts: 2 } };
}

/**
 * Activities whose failure is a verdict (probes, the app's tests and smoke command): the verdict is a
 * non-retryable failure and stands; an attempt lost with its worker (shutdown, kill: heartbeat
 * timeout) is retried at once, and the activity resumes from its heartbeat where it can.
 */
const verdictRetry = {
  initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 5,
  nonRetryableErrorTypes: [PermanentError.HealthCheckFailed, PermanentError.TestsFailed, PermanentError.SmokeCheckFailed, PermanentError.CommandTimedOut],
};

/** The app's own commands (tests, smoke command): a cancel reaches them within ~8 s (80% of the heartbeat timeout). */
export function appCommandOptions(timeoutMs: number): ActivityOptions {
  return { startToCloseTimeout: timeoutMs + 60_000, heartbeatTimeout: '10s', retry: verdictRetry };
}

/** Probes decide health, bounded by their own deadline; a resumed probe keeps its streak and its window. */
export function probeOptions(deadlineMs: number): ActivityOptions {
  return { startToCloseTimeout: deadlineMs + 60_000, heartbeatTimeout: '10s', retry: verdictRetry };
}

/**
 * The same options, sent to the task queue of their kind of work (worker/taskQueues.ts): rollouts
 * and database work have slots of their own. Absent (tests, histories from before): the run's own queue.
 */
export function onTaskQueue<T extends ActivityOptions>(options: T, taskQueue: string | undefined): T {
  return taskQueue ? { ...options, taskQueue } : options;
}

/** Config reads and small checks. */
export const localOptions: ActivityOptions = { startToCloseTimeout: '30s', retry: { ...transientRetry, maximumAttempts: 3 } };

/**
 * Config reads and ledger reads on the pipeline's critical path, as local activities: they run in
 * the worker that runs the workflow, with no task-queue round trip (a stage's overhead is mostly
 * those round trips). Seconds at most, so a lost worker only repeats them.
 */
export const quickLocalOptions: LocalActivityOptions = { startToCloseTimeout: '30s', retry: { ...transientRetry, maximumAttempts: 3 } };
