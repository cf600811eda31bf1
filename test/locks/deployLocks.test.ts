import { fileURLToPath } from 'node:url';
import { WorkflowNotFoundError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { deployLockStatus, DeployLockedError, deployQueueStatus, lockDeploys, unlockDeploys } from '../../lib/deployLocks.js';
import { decideApproval, requestDeploy, requestRollback } from '../../lib/operations.js';
import { useDeployWorld, type TestApp } from '../helpers/deployWorld.js';
import { useWorkflowTestKit } from '../helpers/temporal.js';
import { deployRequest, rolloutsOf, settle, waitForStatus, waitUntil } from '../deploy/support.js';

const kit = useWorkflowTestKit(fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)));
const world = useDeployWorld(kit);

const target = (app: TestApp) => ({ app: app.name, environment: 'staging' });

/** Runs fn with a worker whose activities can reach Temporal (the lock a rollback takes needs it). */
function withWorker<T>(fn: (taskQueue: string) => Promise<T>): Promise<T> {
  return kit.withWorker(world.activities({ temporalClient: kit.client }), fn);
}

async function deploy(taskQueue: string, app: TestApp, version: string): Promise<void> {
  const sha = app.repo.commit({ behaviour: { version } });
  const { workflowId } = await requestDeploy(kit.client, taskQueue, deployRequest(app, sha));
  const { status } = await settle(kit.client, workflowId);
  expect(status.state).toBe('succeeded');
}

// Each test has its own app (and task queue): they run side by side, up to the config's maxConcurrency.
describe.concurrent('deploy locks', () => {
  it('refuses a deploy while locked, naming owner, reason and how to unlock, and starts nothing', async () => {
    const app = await world.createApp();
    await withWorker(async (taskQueue) => {
      await lockDeploys(kit.client, taskQueue, { ...target(app), owner: 'U_OPS', reason: 'release freeze' });
      const sha = app.repo.commit({ behaviour: { version: 'v2' } });
      const refusal = await requestDeploy(kit.client, taskQueue, deployRequest(app, sha)).catch((err: unknown) => err);
      expect(refusal).toBeInstanceOf(DeployLockedError);
      expect((refusal as Error).message).toMatch(new RegExp(`Deploys of ${app.name} to staging are locked by U_OPS since \\d{4}-.* until someone unlocks: release freeze\\. Rollbacks still run\\.`));
      expect((refusal as Error).message).toContain(`/flightdeck unlock ${app.name} staging`);
      expect(rolloutsOf(world.sim, app)).toHaveLength(0);
      const queue = await deployQueueStatus(kit.client, target(app));
      expect(queue?.lock?.owner).toBe('U_OPS');
      expect(queue?.running ?? queue?.waiting).toBeUndefined();
      expect(await world.servedBody(app)).toContain('v1');
    });
  });

  it('lets a rollback run while locked and keeps the lock', async () => {
    const app = await world.createApp();
    await withWorker(async (taskQueue) => {
      await deploy(taskQueue, app, 'v2');
      await lockDeploys(kit.client, taskQueue, { ...target(app), owner: 'U_OPS', reason: 'investigating errors' });
      const rollbackId = await requestRollback(kit.client, taskQueue, { ...target(app), reason: 'errors up', trigger: { source: 'slack', actor: 'U_ONCALL' } });
      const { status } = await settle(kit.client, rollbackId);
      expect(status.state).toBe('succeeded');
      expect(await world.servedBody(app)).toContain('v1');
      expect(await deployLockStatus(kit.client, target(app))).toMatchObject({ owner: 'U_OPS', reason: 'investigating errors' });
    });
  });

  it('locks deploys after a rollback until someone unlocks, then the next deploy runs', async () => {
    const app = await world.createApp();
    await withWorker(async (taskQueue) => {
      await deploy(taskQueue, app, 'v2');
      const rollbackId = await requestRollback(kit.client, taskQueue, { ...target(app), reason: 'errors up', trigger: { source: 'slack', actor: 'U_ONCALL' } });
      await settle(kit.client, rollbackId);
      expect(await deployLockStatus(kit.client, target(app))).toMatchObject({ owner: 'U_ONCALL', reason: 'rolled back (errors up)', workflowId: rollbackId });

      const refused = await requestDeploy(kit.client, taskQueue, deployRequest(app, app.repo.commit({ behaviour: { version: 'v3' } }))).catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(DeployLockedError);

      const { removed } = await unlockDeploys(kit.client, { ...target(app), actor: 'U_ONCALL' });
      expect(removed?.owner).toBe('U_ONCALL');
      expect(await deployLockStatus(kit.client, target(app))).toBeUndefined();
      await deploy(taskQueue, app, 'v3');
      expect(await world.servedBody(app)).toContain('v3');
    });
  });

  it('does not lock after a rollback when lockAfterRollback is off', async () => {
    const app = await world.createApp({ environment: { lockAfterRollback: false } });
    await withWorker(async (taskQueue) => {
      await deploy(taskQueue, app, 'v2');
      const rollbackId = await requestRollback(kit.client, taskQueue, { ...target(app), reason: 'errors up', trigger: { source: 'cli', actor: 'ann' } });
      await settle(kit.client, rollbackId);
      expect(await world.servedBody(app)).toContain('v1');
      expect(await deployLockStatus(kit.client, target(app))).toBeUndefined();
    });
  });

  it('refuses to roll back, changing nothing and saying why, on a worker without a Temporal client (no ledger, no lock)', async () => {
    const app = await world.createApp();
    const taskQueue = kit.uniqueId('tq');
    const onWorker = async <T>(activities: object, fn: () => Promise<T>) => (await kit.createWorker(taskQueue, activities)).runUntil(fn());
    await onWorker(world.activities(), () => deploy(taskQueue, app, 'v2'));
    const status = await onWorker(world.activities({ temporalClient: undefined }), async () => {
      const rollbackId = await requestRollback(kit.client, taskQueue, { ...target(app), reason: 'errors up', trigger: { source: 'cli', actor: 'ann' } });
      return (await settle(kit.client, rollbackId)).status;
    });
    expect(status.state).toBe('failed');
    expect(status.outcome).toMatch(/without a Temporal client, so it cannot reach the release ledger/);
    expect(await world.servedBody(app)).toContain('v2');
  });

  it('lets a lock with an expiry lapse by itself', async () => {
    const app = await world.createApp();
    await withWorker(async (taskQueue) => {
      const { lock } = await lockDeploys(kit.client, taskQueue, { ...target(app), owner: 'U_OPS', reason: 'short freeze', expiresIn: '2s' });
      expect(Date.parse(lock.expiresAt!) - Date.parse(lock.since)).toBe(2000);
      await waitUntil('the lock to lapse', async () => (await deployLockStatus(kit.client, target(app))) === undefined);
      await deploy(taskQueue, app, 'v2');
    });
  });

  it('keeps the first lock when locked twice, and says nothing was locked when unlocking an unlocked app', async () => {
    const app = await world.createApp();
    await withWorker(async (taskQueue) => {
      expect(await unlockDeploys(kit.client, { ...target(app), actor: 'U_OPS' })).toEqual({});
      await lockDeploys(kit.client, taskQueue, { ...target(app), owner: 'U_ONE', reason: 'first' });
      const second = await lockDeploys(kit.client, taskQueue, { ...target(app), owner: 'U_TWO', reason: 'second' });
      expect(second).toMatchObject({ wasAlreadyLocked: true, lock: { owner: 'U_ONE', reason: 'first' } });
    });
  });

  it('holds a deploy that was already waiting when the lock was taken, and starts it on unlock', async () => {
    const app = await world.createApp({ environment: { approval: { required: true, approvers: ['UAPPROVER'], timeout: '2m' } } });
    await withWorker(async (taskQueue) => {
      const first = await requestDeploy(kit.client, taskQueue, deployRequest(app, app.repo.commit({ behaviour: { version: 'v2' } })));
      await waitForStatus(kit.client, first.workflowId, 'waiting for approval', (s) => s.state === 'waiting-for-approval');
      const second = await requestDeploy(kit.client, taskQueue, deployRequest(app, app.repo.commit({ behaviour: { version: 'v3' } })));
      expect(second.disposition).toBe('queued');
      await lockDeploys(kit.client, taskQueue, { ...target(app), owner: 'U_OPS', reason: 'incident' });

      await decideApproval(kit.client, first.workflowId, { isApproved: true, actor: 'UAPPROVER' });
      expect((await settle(kit.client, first.workflowId)).status.state).toBe('succeeded');
      const held = await waitUntil('the queue to finish the first deploy', async () => {
        const queue = await deployQueueStatus(kit.client, target(app));
        return queue && !queue.running ? queue : undefined;
      });
      expect(held.waiting?.workflowId).toBe(second.workflowId);
      await expect(kit.client.workflow.getHandle(second.workflowId).describe()).rejects.toThrow(WorkflowNotFoundError);

      expect(await unlockDeploys(kit.client, { ...target(app), actor: 'U_OPS' })).toMatchObject({ waitingWorkflowId: second.workflowId });
      await waitForStatus(kit.client, second.workflowId, 'the held deploy to start', (s) => s.state === 'waiting-for-approval');
      await decideApproval(kit.client, second.workflowId, { isApproved: true, actor: 'UAPPROVER' });
      expect((await settle(kit.client, second.workflowId)).status.state).toBe('succeeded');
      expect(await world.servedBody(app)).toContain('v3');
    });
  });

  it('refuses a lock without a reason or with a malformed expiry, changing nothing', async () => {
    const app = await world.createApp();
    await withWorker(async (taskQueue) => {
      await expect(lockDeploys(kit.client, taskQueue, { ...target(app), owner: 'U_OPS', reason: ' ' })).rejects.toThrow(/Cannot lock: reason: why/);
      await expect(lockDeploys(kit.client, taskQueue, { ...target(app), owner: 'U_OPS', reason: 'x', expiresIn: 'soon' })).rejects.toThrow(/expiresIn: a duration like 30s/);
      expect(await deployLockStatus(kit.client, target(app))).toBeUndefined();
    });
  });
});
