// Backup activities heartbeat {phase, bytes}: Temporal shows how far a dump or restore has come, and
// delivers a cancellation only to an activity that heartbeats. Details are persisted: no secrets.
import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';

export interface Progress {
  setPhase(phase: string): void;
  addBytes(count: number): void;
  /** Bytes counted in the current phase. */
  bytes(): number;
  /** Aborted when the activity is cancelled (or its worker shuts down). */
  signal: AbortSignal;
  /** Throws the cancellation if one arrived: call after a step that may have been cut short. */
  throwIfCancelled(): void;
}

const HEARTBEAT_INTERVAL_MS = 5000;

export async function withProgress<T>(initialPhase: string, fn: (progress: Progress) => Promise<T>): Promise<T> {
  const context = Context.current();
  let phase = initialPhase;
  let bytes = 0;
  const beat = () => context.heartbeat({ phase, bytes });
  beat();
  const timer = setInterval(beat, HEARTBEAT_INTERVAL_MS);
  const signal = context.cancellationSignal;
  const throwIfCancelled = () => {
    if (signal.aborted) throw new CancelledFailure(`cancelled during ${phase}`);
  };
  try {
    return await fn({
      setPhase: (next) => { phase = next; bytes = 0; beat(); },
      addBytes: (count) => { bytes += count; },
      bytes: () => bytes,
      signal,
      throwIfCancelled,
    });
  } catch (err) {
    // Whatever a killed child left as an error, the cause is the cancellation.
    throwIfCancelled();
    throw err;
  } finally {
    clearInterval(timer);
  }
}
