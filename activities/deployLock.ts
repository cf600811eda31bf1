// Locks deploys from inside a workflow: after a rollback, nobody should redeploy the release that was
// just rolled back until a person has looked. The lock lives in the deploy queue workflow, so this
// activity needs a Temporal client (workflows cannot update-with-start another workflow).
import { activityInfo } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { lockDeploys } from '../lib/deployLocks.js';
import { PermanentError, permanentFailure } from '../lib/errors.js';
import type { DeployLock, LockRequest } from '../lib/messages.js';

export interface DeployLockActivityDeps {
  /** Absent on a worker without a client: the lock is then reported as not taken. */
  temporalClient?: Client;
}

export function createDeployLockActivities(deps: DeployLockActivityDeps) {
  return {
    /** Locks new deploys of the app and environment; an existing lock is kept. Returns the lock in force. */
    async lockDeploysAfterRollback(input: LockRequest & { app: string; environment: string }): Promise<DeployLock> {
      if (!deps.temporalClient) {
        throw permanentFailure(PermanentError.ConfigInvalid, 'this worker was started without a Temporal client, so it cannot lock deploys');
      }
      // The queue runs on this worker's task queue, like the rollback that asks for the lock.
      const { lock } = await lockDeploys(deps.temporalClient, activityInfo().taskQueue, input);
      return lock;
    },
  };
}

export type DeployLockActivities = ReturnType<typeof createDeployLockActivities>;
