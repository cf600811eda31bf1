// The operations people and systems start: the API, the CLI and Slack all call these, so a deploy
// started from any of them takes the same path. Workflows are named by type, not imported.
import { randomUUID } from 'node:crypto';
import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { deployQueueStartOperation } from './deployQueueAddress.js';
import { deployLockRefusal } from './deployLocks.js';
import {
  approvalUpdate, cancelSignal, enqueueDeployUpdate, failureDecisionUpdate, statusQuery,
  type ApprovalDecision, type DeployRequest, type EnqueueResult, type FailureDecision, type RollbackRequest, type RunStatus,
} from './messages.js';

export { deployQueueId } from './deployQueueAddress.js';

/**
 * Queues a deploy (starting the app's queue if needed) and returns the pipeline's workflow id.
 * Throws DeployLockedError when the app and environment are locked.
 */
export async function requestDeploy(client: Client, taskQueue: string, request: DeployRequest): Promise<EnqueueResult> {
  const startWorkflowOperation = deployQueueStartOperation(taskQueue, request.app, request.environment);
  return client.workflow.executeUpdateWithStart(enqueueDeployUpdate, { args: [request], startWorkflowOperation })
    .catch((err: unknown) => { throw deployLockRefusal(err, request.app, request.environment) ?? err; });
}

/** Starts a rollback; one per app and environment at a time. */
export async function requestRollback(client: Client, taskQueue: string, request: RollbackRequest): Promise<string> {
  const workflowId = `rollback/${request.app}/${request.environment}/${randomUUID().slice(0, 8)}`;
  await client.workflow.start('rollback', { workflowId, taskQueue, args: [request] });
  return workflowId;
}

export async function runStatus(client: Client, workflowId: string): Promise<RunStatus> {
  return client.workflow.getHandle(workflowId).query(statusQuery);
}

export async function decideApproval(client: Client, workflowId: string, decision: ApprovalDecision): Promise<void> {
  await client.workflow.getHandle(workflowId).executeUpdate(approvalUpdate, { args: [decision] }).catch(explainRefusal);
}

export async function decideOnFailure(client: Client, workflowId: string, decision: FailureDecision): Promise<void> {
  await client.workflow.getHandle(workflowId).executeUpdate(failureDecisionUpdate, { args: [decision] }).catch(explainRefusal);
}

/** Cancels a running pipeline: the running step stops, and a deploy that had started is rolled back. */
export async function cancelRun(client: Client, workflowId: string, request: { actor: string; reason: string }): Promise<void> {
  await client.workflow.getHandle(workflowId).signal(cancelSignal, request);
}

/** A refused update carries the workflow's reason ("U1 is not an approver…") in its cause. */
function explainRefusal(err: unknown): never {
  if (err instanceof WorkflowUpdateFailedError && err.cause?.message) throw new Error(err.cause.message);
  throw err;
}
