// Timeouts and retry policies, by kind of activity. One place to tune how patient Flightdeck is.
import type { ActivityOptions } from '@temporalio/workflow';

const transientRetry = { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5 };

/** Quick flyctl reads (status, secrets, releases, checks): retried through 429s and resets. */
export const flyReadOptions: ActivityOptions = { startToCloseTimeout: '2m', heartbeatTimeout: '30s', retry: transientRetry };

/** `fly deploy`: a retry after a lost worker finds the rollout already under way (see activities/fly.ts). */
export function flyDeployOptions(waitTimeoutMs: number): ActivityOptions {
  return { startToCloseTimeout: waitTimeoutMs + 10 * 60_000, heartbeatTimeout: '10s', retry: { ...transientRetry, maximumAttempts: 4 } };
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
