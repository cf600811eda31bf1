// Following a run as it happens: polls the workflow's status query and prints each stage as it
// starts and finishes, with timings, until the run reaches a final state, or closes without one
// (terminated, timed out, reset away): Temporal's own word that it closed ends the follow too, so a
// run whose status can no longer change is never waited on forever. A step between two attempts
// (a 429, a lost worker) is shown with why its attempt failed and when it is tried again.
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { describeActivityRetry, readActivityRetries, retryKey } from '../lib/activityRetries.js';
import type { RunState, RunStatus, StageState } from '../lib/messages.js';
import { runStatus } from '../lib/operations.js';
import { describeRun, formatStageLine } from './format.js';
import type { Output } from './output.js';

export const FINAL_STATES: ReadonlySet<RunState> = new Set(['succeeded', 'failed', 'rolled-back', 'cancelled', 'superseded', 'refused']);
/** Often enough for a person watching; each poll replays the run on a worker once it has closed. */
const POLL_INTERVAL_MS = 1500;
/** One status read that takes longer (a starved worker, a lost connection) is given up and tried again. */
const STATUS_READ_TIMEOUT_MS = 10_000;

/** Prints the run's progress on out and resolves with its final status. */
export async function followRun(client: Client, workflowId: string, out: Output): Promise<RunStatus> {
  const printed = new Map<string, StageState>();
  const printedRetries = new Set<string>();
  let lastWaitingReason: string | undefined;
  let lastState: RunState | undefined;
  let hasHeader = false;
  const closing = new AbortController();
  let closed: Promise<void> | undefined;
  let hasClosed = false;
  try {
    for (;;) {
      const isClosed = hasClosed;
      const { status, waitingReason } = await readStatus(client, workflowId);
      if (waitingReason && waitingReason !== lastWaitingReason) out.line(`${workflowId}: ${waitingReason}`);
      lastWaitingReason = waitingReason;
      if (status) {
        if (!hasHeader) out.line(`${describeRun(status)}: ${workflowId}`);
        hasHeader = true;
        if (status.state !== lastState) announceState(out, workflowId, status.state);
        lastState = status.state;
        printStageChanges(out, status, printed);
        if (FINAL_STATES.has(status.state)) return status;
        await printRetries(client, workflowId, status, out, printedRetries);
        // Read after the close: this status is the last there will be.
        const ended = isClosed ? await closedWithoutFinalState(client, workflowId, status) : undefined;
        if (ended) return ended;
        // Still running (the wait for the close broke off): wait for it again.
        if (isClosed) [closed, hasClosed] = [undefined, false];
        closed ??= whenClosed(client, workflowId, closing.signal).then(() => { hasClosed = true; });
      }
      await Promise.race([sleep(POLL_INTERVAL_MS), closed ?? new Promise(() => undefined)]);
    }
  } finally {
    closing.abort();
  }
}

/** Settles when the run closes, however it closes (one long poll of its history, not a poll per tick). */
function whenClosed(client: Client, workflowId: string, signal: AbortSignal): Promise<void> {
  return client.withAbortSignal(signal, () => client.workflow.getHandle(workflowId).result()).then(() => undefined, () => undefined);
}

/** A run that closed while its status still said it was under way: Temporal's close status decides. */
async function closedWithoutFinalState(client: Client, workflowId: string, status: RunStatus): Promise<RunStatus | undefined> {
  const { status: closedAs, closeTime } = await client.workflow.getHandle(workflowId).describe();
  if (closedAs.name === 'RUNNING') return undefined;
  const where = status.currentStage ? ` during ${status.currentStage}` : '';
  return {
    ...status,
    state: closedAs.name === 'CANCELLED' ? 'cancelled' : 'failed',
    finishedAt: (closeTime ?? new Date()).toISOString(),
    outcome: `the run ended ${closedAs.name}${where} without reporting an outcome${status.outcome ? ` (last: ${status.outcome})` : ''}; see its history in Temporal`,
  };
}

/** The run's status, or why there is none yet. */
async function readStatus(client: Client, workflowId: string): Promise<{ status?: RunStatus; waitingReason?: string }> {
  try {
    const status = await client.withDeadline(Date.now() + STATUS_READ_TIMEOUT_MS, () => runStatus(client, workflowId));
    // A deploy waiting in its queue has no workflow yet; the queue answers for it.
    return status.state === 'queued' ? { waitingReason: `queued: ${status.outcome}` } : { status };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new Error(`no run ${workflowId}; list runs with flightdeck history`);
    // A run that ended without answering (terminated, or no worker to answer) cannot be followed.
    const description = await client.workflow.getHandle(workflowId).describe();
    if (description.status.name !== 'RUNNING') {
      throw new Error(`run ${workflowId} ended (${description.status.name}) and its status could not be read: ${(err as Error).message}`);
    }
    // Its first workflow task has not run: no worker polls the queue, or the worker cannot run it.
    return { waitingReason: `waiting for a worker on task queue ${description.taskQueue} to run it` };
  }
}

function announceState(out: Output, workflowId: string, state: RunState): void {
  if (state === 'waiting-for-approval') out.line(`waiting for approval: flightdeck approve ${workflowId}  (or: flightdeck reject ${workflowId})`);
  else if (state === 'waiting-for-decision') out.line(`waiting for a decision: flightdeck decide ${workflowId} rollback|keep`);
}

/** Each failed attempt once as it waits for its retry, and once as the retry runs. */
async function printRetries(client: Client, workflowId: string, status: RunStatus, out: Output, printed: Set<string>): Promise<void> {
  // Only a nicety: a slow or failed read is given up, and the next poll reads again.
  const retries = await client.withDeadline(Date.now() + STATUS_READ_TIMEOUT_MS, () => readActivityRetries(client, workflowId)).catch(() => []);
  for (const retry of retries) {
    const key = retryKey(retry);
    if (printed.has(key)) continue;
    printed.add(key);
    out.line(`↻ ${describeActivityRetry(retry, status.currentStage)}`);
  }
}

function printStageChanges(out: Output, status: RunStatus, printed: Map<string, StageState>): void {
  for (const stage of status.stages) {
    const before = printed.get(stage.name) ?? 'pending';
    if (stage.state === before) continue;
    printed.set(stage.name, stage.state);
    out.line(formatStageLine(stage));
  }
}
