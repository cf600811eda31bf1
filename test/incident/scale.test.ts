import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { requestScale, stoppedFleet } from '../../lib/appOperations.js';
import { deployLockStatus } from '../../lib/deployLocks.js';
import { useDeployWorld } from '../helpers/deployWorld.js';
import { useWorkflowTestKit } from '../helpers/temporal.js';
import { settle, waitForStatus } from '../deploy/support.js';
import { decideApproval } from '../../lib/operations.js';
import { regionsOf } from './support.js';

const kit = useWorkflowTestKit(fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)));
const world = useDeployWorld(kit);

const trigger = { source: 'cli' as const, actor: 'dana' };

describe('stop, start and scale', () => {
  it('stops every machine and starts the same counts per region again', { timeout: 120_000 }, async () => {
    const app = await world.createApp({ machines: 2 });
    await world.sim.runOrThrow(['scale', 'count', '1', '--region', 'ams', '--yes', '-a', app.name]);
    const address = { app: app.name, environment: 'staging' };
    await kit.withWorker(world.activities(), async (taskQueue) => {
      const stop = await requestScale(kit.client, taskQueue, { ...address, action: 'stop', reason: 'data leak', trigger });
      const stopped = await settle(kit.client, stop.workflowId);
      expect(stopped.status.state).toBe('succeeded');
      expect(await regionsOf(world.sim, app)).toEqual({});
      expect((await stoppedFleet(kit.client, address))?.regions).toEqual({ ams: 1, iad: 2 });
      expect((await deployLockStatus(kit.client, address))?.reason).toMatch(/stopped \(data leak\)/);

      const start = await requestScale(kit.client, taskQueue, { ...address, action: 'start', reason: 'fixed', trigger });
      const started = await settle(kit.client, start.workflowId);
      expect(started.status.state).toBe('succeeded');
      expect(started.status.outcome).toMatch(/ams 1, iad 2, as before the stop/);
      expect(await regionsOf(world.sim, app)).toEqual({ ams: 1, iad: 2 });
      expect((await fetch(`${app.appUrl}/health`)).status).toBe(200);
      expect(await stoppedFleet(kit.client, address)).toBeUndefined();
      expect(await deployLockStatus(kit.client, address)).toBeUndefined();
    });
  });

  it('waits for an approver before stopping an environment whose deploys need approval', { timeout: 90_000 }, async () => {
    const app = await world.createApp({ machines: 1, environment: { approval: { required: true, approvers: ['U_LEAD'] } } });
    await kit.withWorker(world.activities(), async (taskQueue) => {
      const stop = await requestScale(kit.client, taskQueue, { app: app.name, environment: 'staging', action: 'stop', reason: 'incident', trigger });
      const handle = kit.client.workflow.getHandle(stop.workflowId);
      await waitForStatus(kit.client, stop.workflowId, 'waiting for approval', (s) => s.state === 'waiting-for-approval');
      expect(await regionsOf(world.sim, app)).toEqual({ iad: 1 });
      await decideApproval(kit.client, stop.workflowId, { isApproved: true, actor: 'U_LEAD' });
      await handle.result();
      expect(await regionsOf(world.sim, app)).toEqual({});
    });
  });

  it('scales to a count in a region and checks that it runs there', { timeout: 90_000 }, async () => {
    const app = await world.createApp({ machines: 1 });
    await kit.withWorker(world.activities(), async (taskQueue) => {
      const run = await requestScale(kit.client, taskQueue, { app: app.name, environment: 'staging', action: 'scale', count: 2, region: 'ams', reason: 'more capacity', trigger });
      const { status } = await settle(kit.client, run.workflowId);
      expect(status.state).toBe('succeeded');
      expect(await regionsOf(world.sim, app)).toEqual({ ams: 2, iad: 1 });
    });
  });
});
