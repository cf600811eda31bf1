// Where a client finds an app and environment's deploy queue (workflows/deployQueue.ts): the one
// coordinator per app and environment that deploys, dedupes deliveries and holds the deploy lock.
import { WithStartWorkflowOperation } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';

export function deployQueueId(app: string, environment: string): string {
  return `deploy-queue/${app}/${environment}`;
}

/** Starts the app and environment's queue unless it runs already (for update-with-start; one use each). */
export function deployQueueStartOperation(taskQueue: string, app: string, environment: string): WithStartWorkflowOperation<Workflow> {
  return new WithStartWorkflowOperation('deployQueue', {
    workflowId: deployQueueId(app, environment),
    taskQueue,
    args: [],
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
}
