// Following a run as it happens: polls the workflow's status query and prints each stage as it
// starts and finishes, with timings, until the run reaches a final state.
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { RunState, RunStatus, StageState } from '../lib/messages.js';
import { runStatus } from '../lib/operations.js';
import { describeRun, formatStageLine } from './format.js';
import type { Output } from './output.js';

export const FINAL_STATES: ReadonlySet<RunState> = new Set(['succeeded', 'failed', 'rolled-back', 'cancelled', 'superseded', 'refused']);
const POLL_INTERVAL_MS = 250;

/** Prints the run's progress on out and resolves with its final status. */
export async function followRun(client: Client, workflowId: string, out: Output): Promise<RunStatus> {
  const printed = new Map<string, StageState>();
  let lastWaitingReason: string | undefined;
  let lastState: RunState | undefined;
  let hasHeader = false;
  for (;;) {
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
    }
    await sleep(POLL_INTERVAL_MS);
  }
}

/** The run's status, or why there is none yet. */
async function readStatus(client: Client, workflowId: string): Promise<{ status?: RunStatus; waitingReason?: string }> {
  try {
    const status = await runStatus(client, workflowId);
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

function printStageChanges(out: Output, status: RunStatus, printed: Map<string, StageState>): void {
  for (const stage of status.stages) {
    const before = printed.get(stage.name) ?? 'pending';
    if (stage.state === before) continue;
    printed.set(stage.name, stage.state);
    out.line(formatStageLine(stage));
  }
}
