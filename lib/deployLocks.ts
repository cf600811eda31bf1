// Deploy locks: "nobody deploys shop to production until we say so". A lock lives in the app and
// environment's deploy queue workflow (no lock table): the queue refuses new deploys while it holds
// one, and rollbacks, which do not go through the queue, still run. Slack, the API and the CLI call these.
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import {
  DEPLOY_LOCKED, lockDeploysUpdate, queueStatusQuery, unlockDeploysUpdate,
  type DeployLock, type QueueStatus,
} from './messages.js';
import { deployQueueId, deployQueueStartOperation } from './deployQueueAddress.js';
import { duration, resourceName } from './validate.js';

/** A deploy refused because the app and environment are locked. */
export class DeployLockedError extends Error {
  constructor(readonly app: string, readonly environment: string, readonly lock: DeployLock) {
    super(describeLockRefusal(app, environment, lock));
    this.name = 'DeployLockedError';
  }
}

export function describeLockRefusal(app: string, environment: string, lock: DeployLock): string {
  const until = lock.expiresAt ? ` until ${lock.expiresAt}` : ' until someone unlocks';
  return `Deploys of ${app} to ${environment} are locked by ${lock.owner} since ${lock.since}${until}: ${lock.reason}. `
    + `Rollbacks still run. To deploy, unlock first: /flightdeck unlock ${app} ${environment} in Slack, or flightdeck unlock ${app} ${environment}.`;
}

/** The DeployLockedError inside a refused enqueue, if that is why it was refused. */
export function deployLockRefusal(err: unknown, app: string, environment: string): DeployLockedError | undefined {
  if (!(err instanceof WorkflowUpdateFailedError)) return undefined;
  const cause = err.cause;
  if (!(cause instanceof ApplicationFailure) || cause.type !== DEPLOY_LOCKED) return undefined;
  return new DeployLockedError(app, environment, cause.details?.[0] as DeployLock);
}

const lockInput = z.object({
  app: resourceName,
  environment: resourceName,
  owner: z.string().trim().min(1, 'who is locking (a user id or name)').max(200),
  reason: z.string().trim().min(1, 'why, e.g. "release freeze until Monday"').max(500),
  expiresIn: duration.optional(),
  workflowId: z.string().max(500).optional(),
});
export type LockDeploysInput = z.input<typeof lockInput>;

/** Locks new deploys (starting the queue if it is idle). Locking a locked environment keeps the first lock. */
export async function lockDeploys(client: Client, taskQueue: string, input: LockDeploysInput): Promise<{ lock: DeployLock; wasAlreadyLocked: boolean }> {
  const parsed = lockInput.safeParse(input);
  if (!parsed.success) throw new Error(`Cannot lock: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const { app, environment, ...request } = parsed.data;
  return client.workflow.executeUpdateWithStart(lockDeploysUpdate, {
    args: [request],
    startWorkflowOperation: deployQueueStartOperation(taskQueue, app, environment),
  });
}

/** Removes the lock. `removed` is absent when nothing was locked; a held deploy then starts. */
export async function unlockDeploys(client: Client, input: { app: string; environment: string; actor: string }): Promise<{ removed?: DeployLock; waitingWorkflowId?: string }> {
  const handle = client.workflow.getHandle(deployQueueId(input.app, input.environment));
  if (!(await isQueueRunning(client, input.app, input.environment))) return {};
  try {
    return await handle.executeUpdate(unlockDeploysUpdate, { args: [{ actor: input.actor }] });
  } catch (err) {
    // The queue finished between the check and the update: it was not locked (it never ends locked).
    if (err instanceof WorkflowNotFoundError) return {};
    throw err;
  }
}

/** The lock in force, if any. */
export async function deployLockStatus(client: Client, input: { app: string; environment: string }): Promise<DeployLock | undefined> {
  return (await deployQueueStatus(client, input))?.lock;
}

/** What the queue is doing: the running and waiting deploys and the lock; undefined when idle. */
export async function deployQueueStatus(client: Client, input: { app: string; environment: string }): Promise<QueueStatus | undefined> {
  if (!(await isQueueRunning(client, input.app, input.environment))) return undefined;
  return client.workflow.getHandle(deployQueueId(input.app, input.environment)).query(queueStatusQuery);
}

/** A finished queue holds no lock and no deploys, and querying it would need a replay. */
async function isQueueRunning(client: Client, app: string, environment: string): Promise<boolean> {
  try {
    const description = await client.workflow.getHandle(deployQueueId(app, environment)).describe();
    return description.status.name === 'RUNNING';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}
