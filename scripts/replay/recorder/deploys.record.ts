// Recording run (scripts/recordHistories.ts copies this folder into a worktree of the commit being
// recorded, so every import below is THAT commit's code): deploys, the queue and rollbacks against
// the Fly simulator, each history saved as a replay fixture. Runs in flight are saved while they
// wait, then terminated.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { lockDeploys } from '../../../lib/deployLocks.js';
import { queueStatusQuery } from '../../../lib/messages.js';
import { ledgerWorkflowId } from '../../../lib/releaseLedger.js';
import { cancelRun, decideApproval, deployQueueId, requestDeploy, requestRollback } from '../../../lib/operations.js';
import { deployRequest, settle, waitForStatus, waitUntil } from '../../../test/deploy/support.js';
import { useDeployWorld } from '../../../test/helpers/deployWorld.js';
import { useWorkflowTestKit } from '../../../test/helpers/temporal.js';
import { saveHistory, saveInFlight } from './save.js';

const kit = useWorkflowTestKit(fileURLToPath(new URL('../../../workflows/index.ts', import.meta.url)));
const world = useDeployWorld();

function withWorker<T>(fn: (taskQueue: string) => Promise<T>): Promise<T> {
  return kit.withWorker(world.activities({ temporalClient: kit.client }), fn);
}

const APPROVAL = { approval: { required: true, approvers: ['U_ALICE'], timeout: '30m' } };
/** Our own probe reads `/`, which the broken commit answers with 500, while Fly's checks pass. */
const HEALTH_ON_HOME = { path: '/', consecutiveSuccesses: 2, interval: '100ms', deadline: '2s', requestTimeout: '1s' };

describe('recording deploys', () => {
  it('deployPipeline/succeeded, deployQueue/continued-as-new, rollback/manual, releaseLedger/recording (in flight)', async () => {
    const app = await world.createApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    await withWorker(async (taskQueue) => {
      const { workflowId } = await requestDeploy(kit.client, taskQueue, deployRequest(app, sha));
      const queue = kit.client.workflow.getHandle(deployQueueId(app.name, 'staging'));
      const firstQueueRun = (await queue.describe()).runId;
      expect((await settle(kit.client, workflowId)).status.state).toBe('succeeded');
      await saveHistory(kit.client, { workflowId, workflowType: 'deployPipeline', scenario: 'succeeded' });
      // The recording server suggests continue-as-new after a few events: the queue does so once idle.
      await waitUntil('the queue to continue as new', async () => (await queue.describe()).runId !== firstQueueRun);
      await saveHistory(kit.client, { workflowId: queue.workflowId, runId: firstQueueRun, workflowType: 'deployQueue', scenario: 'continued-as-new' });

      const rollbackId = await requestRollback(kit.client, taskQueue, { app: app.name, environment: 'staging', reason: 'errors up', trigger: { source: 'slack', actor: 'U_ONCALL' } });
      expect((await settle(kit.client, rollbackId)).status.state).toBe('succeeded');
      await saveHistory(kit.client, { workflowId: rollbackId, workflowType: 'rollback', scenario: 'manual' });
      await queue.terminate('recording done');
      // The environment's ledger, written by both runs, lives on (it continues as new daily).
      await saveInFlight(kit.client, { workflowId: ledgerWorkflowId(app.name, 'staging'), workflowType: 'releaseLedger', scenario: 'recording' });
    });
  });

  it('deployPipeline/rolled-back-health, rollback/pipeline-child', async () => {
    const app = await world.createApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2', health: 'fail' } });
    await withWorker(async (taskQueue) => {
      const { workflowId } = await requestDeploy(kit.client, taskQueue, deployRequest(app, sha));
      expect((await settle(kit.client, workflowId)).status.state).toBe('rolled-back');
      await saveHistory(kit.client, { workflowId, workflowType: 'deployPipeline', scenario: 'rolled-back-health' });
      await saveHistory(kit.client, { workflowId: `${workflowId}/rollback`, workflowType: 'rollback', scenario: 'pipeline-child' });
    });
  });

  it('deployPipeline/paused-for-decision (in flight)', async () => {
    const app = await world.createApp({ environment: { onFailure: 'pause', pauseTimeout: '30m', health: HEALTH_ON_HOME } });
    const sha = app.repo.commit({ behaviour: { version: 'v2', routes: { '/': { status: 500, body: 'broken\n' } } } });
    await withWorker(async (taskQueue) => {
      const { workflowId } = await requestDeploy(kit.client, taskQueue, deployRequest(app, sha));
      await waitForStatus(kit.client, workflowId, 'waiting for a decision', (s) => s.state === 'waiting-for-decision');
      await saveInFlight(kit.client, { workflowId, workflowType: 'deployPipeline', scenario: 'paused-for-decision' });
    });
  });

  it('deployPipeline/waiting-for-approval (in flight), deployQueue/waiting-and-locked (in flight), deployPipeline/approved', async () => {
    const app = await world.createApp({ environment: APPROVAL });
    const [first, second] = ['v2', 'v3'].map((version) => app.repo.commit({ behaviour: { version } }));
    await withWorker(async (taskQueue) => {
      const { workflowId } = await requestDeploy(kit.client, taskQueue, deployRequest(app, first!));
      await waitForStatus(kit.client, workflowId, 'waiting for approval', (s) => s.state === 'waiting-for-approval');
      await saveHistory(kit.client, { workflowId, workflowType: 'deployPipeline', scenario: 'waiting-for-approval' });

      const held = await requestDeploy(kit.client, taskQueue, deployRequest(app, second!));
      expect(held.disposition).toBe('queued');
      await lockDeploys(kit.client, taskQueue, { app: app.name, environment: 'staging', owner: 'U_OPS', reason: 'release freeze' });
      const queue = kit.client.workflow.getHandle(deployQueueId(app.name, 'staging'));
      const status = await queue.query(queueStatusQuery);
      expect([status.running?.workflowId, status.waiting?.workflowId, status.lock?.owner]).toEqual([workflowId, held.workflowId, 'U_OPS']);
      await saveHistory(kit.client, { workflowId: queue.workflowId, workflowType: 'deployQueue', scenario: 'waiting-and-locked' });

      await decideApproval(kit.client, workflowId, { isApproved: true, actor: 'U_ALICE' });
      expect((await settle(kit.client, workflowId)).status.state).toBe('succeeded');
      await saveHistory(kit.client, { workflowId, workflowType: 'deployPipeline', scenario: 'approved' });
      await queue.terminate('recording done');
    });
  });

  it('deployPipeline/cancelled', async () => {
    const app = await world.createApp({ environment: APPROVAL });
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    await withWorker(async (taskQueue) => {
      const { workflowId } = await requestDeploy(kit.client, taskQueue, deployRequest(app, sha));
      await waitForStatus(kit.client, workflowId, 'waiting for approval', (s) => s.state === 'waiting-for-approval');
      await cancelRun(kit.client, workflowId, { actor: 'U_BOB', reason: 'wrong branch' });
      expect((await settle(kit.client, workflowId)).status.state).toBe('cancelled');
      await saveHistory(kit.client, { workflowId, workflowType: 'deployPipeline', scenario: 'cancelled' });
    });
  });
});
