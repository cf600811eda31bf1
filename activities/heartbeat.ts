// Long activities report progress and learn of cancellation through heartbeats: Temporal delivers a
// cancel only to an activity that heartbeats. Details are persisted, so they carry no secrets.
// They also carry what an attempt has established so far (a probe streak, a bake window's start):
// the next attempt, on whichever worker, resumes from there instead of starting over or guessing.
import { CancelledFailure, Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { redactText } from '../lib/redact.js';

export interface Progress<State = never> {
  /** Remember the newest line; it goes out with the next heartbeat. */
  report(line: string): void;
  /** What the previous attempt of this activity saved, if there was one. */
  resumed: State | undefined;
  /** Saved with the heartbeat: what the next attempt resumes from. */
  save(state: State): void;
  /** Aborted when the activity is cancelled (or its worker shuts down): see interruptedAttempt(). */
  signal: AbortSignal;
}

interface HeartbeatDetails<State> { phase: string; lastLine: string; state?: State }

/** The failure type of an attempt stopped by its worker (shutdown, lost attempt): always retried. */
export const WORKER_STOPPED = 'WorkerStopped';

/** Runs fn while heartbeating every intervalMs with the newest progress line and saved state. */
export async function withHeartbeat<T, State = never>(phase: string, fn: (progress: Progress<State>) => Promise<T>, intervalMs = 2000): Promise<T> {
  const context = Context.current();
  const resumed = (context.info.heartbeatDetails as HeartbeatDetails<State> | undefined)?.state;
  let state = resumed;
  let lastLine = '';
  const beat = () => context.heartbeat({ phase, lastLine: redactText(lastLine).slice(0, 300), state } satisfies HeartbeatDetails<State>);
  beat();
  const timer = setInterval(beat, intervalMs);
  try {
    return await fn({
      report: (line) => { lastLine = line; },
      resumed,
      save: (next) => { state = next; beat(); },
      signal: context.cancellationSignal,
    });
  } finally {
    clearInterval(timer);
  }
}

/**
 * The failure of an attempt whose abort signal fired. A cancel the workflow asked for (or an attempt
 * the server no longer knows, NOT_FOUND: its workflow cancelled or closed it) is honoured with a
 * CancelledFailure. Anything else (the worker shutting down, an attempt that timed out) says nothing
 * about the work: a retryable failure, so another worker resumes it. Never a verdict, never success.
 */
export function interruptedAttempt(what: string): Error {
  const context = Context.current();
  const reason = context.cancellationSignal.reason;
  const reasonText = reason instanceof CancelledFailure ? reason.message : String(reason ?? 'aborted');
  if (context.cancellationDetails?.cancelRequested || reasonText === 'CANCELLED' || reasonText === 'NOT_FOUND') {
    return reason instanceof CancelledFailure ? reason : new CancelledFailure(`${what} cancelled`);
  }
  return ApplicationFailure.retryable(`${what} was interrupted (${reasonText}); another attempt resumes it`, WORKER_STOPPED);
}
