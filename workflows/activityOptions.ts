// Timeouts and retry policies, by kind of activity. One place to tune how patient Flightdeck is.
import type { ActivityOptions } from '@temporalio/workflow';

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

/** App commands (tests, smoke command) and checkouts: their verdict stands, except a failed clone. */
export function commandOptions(timeoutMs: number): ActivityOptions {
  return { startToCloseTimeout: timeoutMs + 60_000, heartbeatTimeout: '30s', retry: { ...transientRetry, maximumAttempts: 2 } };
}

/** Probes decide health: one attempt, bounded by their own deadline. */
export function probeOptions(deadlineMs: number): ActivityOptions {
  return { startToCloseTimeout: deadlineMs + 60_000, heartbeatTimeout: '30s', retry: { maximumAttempts: 1 } };
}

/** Config reads and small checks. */
export const localOptions: ActivityOptions = { startToCloseTimeout: '30s', retry: { ...transientRetry, maximumAttempts: 3 } };
