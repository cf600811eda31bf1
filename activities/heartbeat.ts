// Long activities report progress and learn of cancellation through heartbeats: Temporal delivers a
// cancel only to an activity that heartbeats. Details are persisted, so they carry no secrets.
import { Context } from '@temporalio/activity';
import { redactText } from '../lib/redact.js';

export interface Progress {
  /** Remember the newest line; it goes out with the next heartbeat. */
  report(line: string): void;
  /** Aborted when the activity is cancelled (or its worker shuts down). */
  signal: AbortSignal;
}

/** Runs fn while heartbeating every intervalMs with the newest progress line. */
export async function withHeartbeat<T>(phase: string, fn: (progress: Progress) => Promise<T>, intervalMs = 2000): Promise<T> {
  const context = Context.current();
  let lastLine = '';
  const beat = () => context.heartbeat({ phase, lastLine: redactText(lastLine).slice(0, 300) });
  beat();
  const timer = setInterval(beat, intervalMs);
  try {
    return await fn({ report: (line) => { lastLine = line; }, signal: context.cancellationSignal });
  } finally {
    clearInterval(timer);
  }
}
