// A step between two attempts. Temporal retries a failed activity after a backoff (seconds to a
// minute), and meanwhile the run's status does not change: to a person following it, the run looks
// hung. Temporal's description of the run (its pending activities, and those of its running
// children, such as a pipeline's rollback) says which attempt failed, why, and when the next starts.
import type { Client, WorkflowExecutionDescription } from '@temporalio/client';
import { optionalTsToMs } from '@temporalio/common/lib/time.js';
import { cutLine, redactText } from './redact.js';

export interface ActivityRetry {
  /** The run (or child run) whose activity it is. */
  workflowId: string;
  activityId: string;
  /** The activity's type, e.g. flyDeployImage. */
  activityType: string;
  /** The attempt that failed last. */
  failedAttempt: number;
  /** 0: no limit. */
  maximumAttempts: number;
  /** Its failure: redacted, one line, bounded. */
  error: string;
  /** The next attempt is running (else it waits for its backoff, or for a worker to take it). */
  isNextAttemptRunning: boolean;
  /** When the next attempt is due (ISO), while it waits. */
  nextAttemptAt?: string;
}

/** Errors are shown on one line; a longer one is cut (its whole text is in the run's history). */
const MAX_ERROR_CHARS = 200;
/** A run rarely has more than one child running; the rest are not worth a request each. */
const MAX_CHILDREN_READ = 3;

/** The run's activities (and its running children's) that failed at least once and will be tried again. */
export async function readActivityRetries(client: Client, workflowId: string): Promise<ActivityRetry[]> {
  const { raw } = await client.workflow.getHandle(workflowId).describe();
  const children = (raw.pendingChildren ?? []).slice(0, MAX_CHILDREN_READ).map((child) => child.workflowId).filter((id): id is string => Boolean(id));
  const childRetries = await Promise.all(children.map((childId) => client.workflow.getHandle(childId).describe()
    .then(({ raw: child }) => retriesOf(childId, child.pendingActivities ?? []))
    // A child that closed meanwhile has nothing pending.
    .catch(() => [])));
  return [...retriesOf(workflowId, raw.pendingActivities ?? []), ...childRetries.flat()];
}

type PendingActivity = NonNullable<WorkflowExecutionDescription['raw']['pendingActivities']>[number];

function retriesOf(workflowId: string, pending: readonly PendingActivity[]): ActivityRetry[] {
  return pending.flatMap((activity) => {
    const attempt = activity.attempt ?? 1;
    if (attempt <= 1 || !activity.lastFailure) return [];
    const nextAttemptMs = optionalTsToMs(activity.nextAttemptScheduleTime) ?? optionalTsToMs(activity.scheduledTime);
    // STARTED = 2 (temporal.api.enums.v1.PendingActivityState).
    const isNextAttemptRunning = activity.state === 2;
    return [{
      workflowId,
      activityId: activity.activityId ?? '',
      activityType: activity.activityType?.name ?? 'activity',
      failedAttempt: attempt - 1,
      maximumAttempts: activity.maximumAttempts ?? 0,
      error: summarizeActivityError(activity.lastFailure.message || activity.lastFailure.applicationFailureInfo?.type || 'no message'),
      isNextAttemptRunning,
      ...(!isNextAttemptRunning && nextAttemptMs !== undefined ? { nextAttemptAt: new Date(nextAttemptMs).toISOString() } : {}),
    }];
  });
}

// eslint-disable-next-line no-control-regex
const ANSI_SEQUENCE = /\u001b\[[0-9;?]{0,32}[ -/]{0,8}[@-~]/g;

/** Its first line, redacted, without control characters (it came from a command's output), and bounded. */
export function summarizeActivityError(message: string): string {
  const line = redactText(message).split('\n').find((l) => l.trim()) ?? '';
  // eslint-disable-next-line no-control-regex
  const printable = line.replace(ANSI_SEQUENCE, '').replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').replace(/ {2,}/g, ' ').trim();
  return printable.length > MAX_ERROR_CHARS ? cutLine(printable, MAX_ERROR_CHARS) : printable;
}

/** "deploy: attempt 3 failed: flyctl deploy failed: 429 …; retrying in 12 s": label is the stage (else the activity type). */
export function describeActivityRetry(retry: ActivityRetry, label: string | undefined, now = Date.now()): string {
  const failed = `${label ?? retry.activityType}: attempt ${retry.failedAttempt} failed: ${retry.error}`;
  const next = retry.failedAttempt + 1;
  const ofMaximum = retry.maximumAttempts > 0 ? ` of ${retry.maximumAttempts}` : '';
  if (retry.isNextAttemptRunning) return `${failed}; attempt ${next}${ofMaximum} running`;
  const waitMs = retry.nextAttemptAt === undefined ? 0 : Date.parse(retry.nextAttemptAt) - now;
  // Due: a worker is about to take it (or none is polling; the run's task queue says which).
  if (waitMs <= 0) return `${failed}; retrying now (attempt ${next}${ofMaximum})`;
  return `${failed}; retrying in ${Math.ceil(waitMs / 1000)} s (attempt ${next}${ofMaximum})`;
}

/** The same retry in the same phase (waiting or running): follow prints each once, not each countdown. */
export function retryKey(retry: ActivityRetry): string {
  return `${retry.workflowId}|${retry.activityId}|${retry.failedAttempt}|${retry.isNextAttemptRunning ? 'running' : 'waiting'}`;
}
