import { fileURLToPath } from 'node:url';
import { WorkflowNotFoundError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { queueStatusQuery } from '../../lib/messages.js';
import { decideApproval, deployQueueId, requestDeploy, runStatus } from '../../lib/operations.js';
import { useDeployWorld } from '../helpers/deployWorld.js';
import { useWorkflowTestKit } from '../helpers/temporal.js';
import { deployRequest, rolloutsOf, settle, waitForStatus, waitUntil } from './support.js';

const kit = useWorkflowTestKit(fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)));
const world = useDeployWorld(kit);

describe('deploy queue', () => {
  it('deploys three quick pushes one at a time: the middle one is superseded and the newest is deployed last', async () => {
    const app = await world.createApp();
    const callsBefore = world.sim.callLog().length;
    // Slow to become healthy, so each rollout takes a while and an overlap would show.
    const [first, middle, newest] = ['v2', 'v3', 'v4'].map((version) => app.repo.commit({ behaviour: { version, healthyAfterMs: 1500 } }));

    await kit.withWorker(world.activities(), async (taskQueue) => {
      const firstRun = await requestDeploy(kit.client, taskQueue, deployRequest(app, first!));
      const middleRun = await requestDeploy(kit.client, taskQueue, deployRequest(app, middle!));
      const newestRun = await requestDeploy(kit.client, taskQueue, deployRequest(app, newest!));
      expect(firstRun.disposition).toBe('started');
      expect(middleRun.disposition).toBe('queued');
      expect(newestRun).toMatchObject({ disposition: 'queued', supersededWorkflowId: middleRun.workflowId });

      const queue = kit.client.workflow.getHandle(deployQueueId(app.name, 'staging'));
      expect((await queue.query(queueStatusQuery)).superseded).toContain(middleRun.workflowId);
      // Ids handed out for runs that do not exist (yet) still answer a status: the queue's.
      expect(await runStatus(kit.client, middleRun.workflowId)).toMatchObject({ state: 'superseded', outcome: expect.stringContaining(newestRun.workflowId) });
      expect(await runStatus(kit.client, newestRun.workflowId)).toMatchObject({ state: 'queued', outcome: expect.stringContaining(firstRun.workflowId) });

      expect((await settle(kit.client, firstRun.workflowId)).status.state).toBe('succeeded');
      await waitUntil('the newest request to start once the first has finished', () =>
        kit.client.workflow.getHandle(newestRun.workflowId).describe().then(() => true, () => false));
      expect((await settle(kit.client, newestRun.workflowId)).status.state).toBe('succeeded');
      await expect(kit.client.workflow.getHandle(middleRun.workflowId).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
    });

    expect(rolloutsOf(world.sim, app).map((r) => r.deployedImage)).toEqual([expect.stringContaining(first!.slice(0, 12)), expect.stringContaining(newest!.slice(0, 12))]);
    // Every flyctl deploy of the app (builds and rollouts) started after the one before it ended.
    const deployCalls = world.sim.callLog().slice(callsBefore).filter((c) => c.command === 'deploy' && c.argv.includes(app.name)).sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
    expect(deployCalls).toHaveLength(4);
    for (let i = 1; i < deployCalls.length; i++) {
      const previousEndedAt = Date.parse(deployCalls[i - 1]!.at) + deployCalls[i - 1]!.durationMs;
      expect(Date.parse(deployCalls[i]!.at)).toBeGreaterThanOrEqual(previousEndedAt);
    }
    // The superseded commit was never built, let alone deployed.
    expect(world.sim.callLog().some((c) => c.argv.some((arg) => arg.includes(middle!.slice(0, 12))))).toBe(false);
    expect(await world.servedBody(app)).toContain('v4');
  });

  it('waits for a deploy an earlier queue left running before it starts the next one, and never cancels a deploy with the queue', { timeout: 180_000 }, async () => {
    const app = await world.createApp({ environment: { approval: { required: true, approvers: ['U_ALICE'], timeout: '10m' } } });
    const [older, newer] = ['v2', 'v3'].map((version) => app.repo.commit({ behaviour: { version } }));
    await kit.withWorker(world.activities(), async (taskQueue) => {
      const first = await requestDeploy(kit.client, taskQueue, deployRequest(app, older!, 'delivery-a'));
      await waitForStatus(kit.client, first.workflowId, 'waiting for approval', (s) => s.state === 'waiting-for-approval');
      // The queue goes away (an operator terminates it, or it is reset); its deploy runs on.
      const queue = kit.client.workflow.getHandle(deployQueueId(app.name, 'staging'));
      await queue.cancel();
      await waitUntil('the queue to close', async () => (await queue.describe()).status.name !== 'RUNNING');
      expect((await runStatus(kit.client, first.workflowId)).state).toBe('waiting-for-approval');

      // A re-delivery starts a new queue, which finds the old deploy still running and waits for it.
      expect(await requestDeploy(kit.client, taskQueue, deployRequest(app, older!, 'delivery-a'))).toMatchObject({ workflowId: first.workflowId, disposition: 'duplicate' });
      const second = await requestDeploy(kit.client, taskQueue, deployRequest(app, newer!, 'delivery-b'));
      expect(second.disposition).toBe('queued');
      await expect(kit.client.workflow.getHandle(second.workflowId).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);

      await decideApproval(kit.client, first.workflowId, { isApproved: true, actor: 'U_ALICE' });
      expect((await settle(kit.client, first.workflowId)).status.state).toBe('succeeded');
      await waitForStatus(kit.client, second.workflowId, 'the next deploy to wait for approval', (s) => s.state === 'waiting-for-approval');
      const firstClosed = (await kit.client.workflow.getHandle(first.workflowId).describe()).closeTime!;
      const secondStarted = (await kit.client.workflow.getHandle(second.workflowId).describe()).startTime;
      expect(secondStarted.getTime()).toBeGreaterThanOrEqual(firstClosed.getTime());
      await kit.client.workflow.getHandle(second.workflowId).terminate('test done');
    });
  });
});
