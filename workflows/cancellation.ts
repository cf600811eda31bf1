// Cancelling a run is Temporal's own cancellation (lib/operations.ts cancelRun): the run closes
// CANCELED. Who asked and why arrive by signal just before it, so the run can say so in its status
// and its Slack message. Each workflow honours the cancel at its own safe points and says what that
// left behind: nothing half done.
import { CancellationScope, CancelledFailure, setHandler } from '@temporalio/workflow';
import { cancelReasonSignal, type CancelRequest } from '../lib/messages.js';
import type { RunTracker } from './runTracker.js';

/**
 * The change id of rollbacks, backups, restores and migrations that honour a cancel at safe points
 * and clean up what it interrupted (docs/operations.md "Patches in force").
 */
export const CANCEL_AT_SAFE_POINTS_PATCH = 'cancel-at-safe-points';

export interface Cancellation {
  /** This run's cancellation was requested (it may be waiting for a safe point). */
  isRequested(): boolean;
  /** "by U_BOB (wrong branch)", or '' when nobody said who. */
  by(): string;
  /** Keeps who asked without touching the run's status (the pipeline's pre-cancellation signal). */
  remember(request: CancelRequest): void;
  /** Marks the run cancelled with this outcome; the failure to throw so that it closes CANCELED. */
  stop(outcome: string): CancelledFailure;
}

/** Call at the start of a workflow, outside any scope: it watches the run's own (root) scope. */
export function acceptCancelReasons(run: RunTracker): Cancellation {
  const root = CancellationScope.current();
  let request: CancelRequest | undefined;
  setHandler(cancelReasonSignal, (received) => {
    request ??= received;
    run.fact('cancelled by', received.actor);
    run.fact('cancel reason', received.reason);
  });
  return {
    isRequested: () => root.consideredCancelled,
    by: () => (request ? `by ${request.actor} (${request.reason})` : ''),
    remember: (received) => { request ??= received; },
    stop: (outcome) => {
      run.setState('cancelled', outcome);
      return new CancelledFailure(outcome);
    },
  };
}

/** "Cancelled by U_BOB (wrong branch) during dump": the start of a cancelled run's outcome. */
export function cancelledDuring(cancellation: Cancellation, stage: string | undefined): string {
  return ['Cancelled', cancellation.by(), stage ? `during ${stage}` : ''].filter(Boolean).join(' ');
}
