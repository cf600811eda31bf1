import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { requestIncidentRunbook } from '../../lib/appOperations.js';
import type { IncidentResult } from '../../lib/messages.js';
import { readLedger, recordLedgerEntry } from '../../lib/releaseLedgerClient.js';
import { useDeployWorld } from '../helpers/deployWorld.js';
import { useWorkflowTestKit } from '../helpers/temporal.js';
import { rolloutsOf, settle, waitForStatus } from '../deploy/support.js';
import { decideOnFailure } from '../../lib/operations.js';
import { restartsOf, waitUntilDegraded } from './support.js';

const kit = useWorkflowTestKit(fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)));
const world = useDeployWorld(kit);

/** Checks wait 3 s at most: a machine a restart does not heal is judged quickly. */
const QUICK_HEALTH = { health: { consecutiveSuccesses: 2, interval: '100ms', deadline: '3s', requestTimeout: '1s' } };
const trigger = { source: 'cli' as const, actor: 'dana' };

// Each test has its own app (and task queue): they run side by side, up to the config's maxConcurrency.
describe.concurrent('incident runbook', () => {
  it('heals a degraded app by restarting its machines one at a time, each passing its checks first', { timeout: 90_000 }, async () => {
    const app = await world.createApp({ machines: 2, environment: QUICK_HEALTH, image: { failHealthAfterMs: 2500, restartHeals: 'permanently' } });
    await waitUntilDegraded(app);
    await kit.withWorker(world.activities(), async (taskQueue) => {
      const { workflowId } = await requestIncidentRunbook(kit.client, taskQueue, { app: app.name, environment: 'staging', reason: 'health 500', trigger });
      const { status, error } = await settle(kit.client, workflowId);
      expect(error).toBeUndefined();
      expect(status.state).toBe('succeeded');
      expect(status.outcome).toMatch(/Restarting 2 machines one by one healed/);
      expect(await kit.client.workflow.getHandle(workflowId).result()).toMatchObject({ healedBy: 'restart' } satisfies Partial<IncidentResult>);

      const restarts = restartsOf(world.sim, app);
      expect(new Set(restarts.map((r) => r.machineId)).size).toBe(2);
      // The second restart began only after the first machine was back and its checks had been read passing.
      const checksBetween = world.sim.callLog().filter((c) => c.command === 'checks list' && c.argv.includes(app.name)
        && Date.parse(c.at) > restarts[0]!.endedAt && Date.parse(c.at) < restarts[1]!.startedAt);
      expect(restarts[1]!.startedAt).toBeGreaterThan(restarts[0]!.endedAt);
      expect(checksBetween.length).toBeGreaterThan(0);
      expect((await fetch(`${app.appUrl}/health`)).status).toBe(200);

      const message = world.slack.messages.find((m) => m.text.includes(`incident ${app.name}`));
      expect(message?.text).toMatch(/succeeded/);
      expect(message?.text).toMatch(/✅ assess[\s\S]*✅ restart[\s\S]*✅ verify[\s\S]*➖ recover/);
    });
  });

  it('rolls back to the last known good release when restarting does not heal the app', { timeout: 120_000 }, async () => {
    const app = await world.createApp({ machines: 2, environment: QUICK_HEALTH });
    await kit.withWorker(world.activities(), async (taskQueue) => {
      await recordLedgerEntry(kit.client, taskQueue, { app: app.name, environment: 'staging' }, {
        id: 'arranged/v1', kind: 'deploy', image: app.initialImage, trigger: { source: 'ci', actor: 'ci' }, startedAt: new Date().toISOString(), verdict: 'verified',
      });
      const broken = world.sim.makeSourceDir({ version: 'v2', failHealthAfterMs: 2500, restartHeals: false }, { app: app.name });
      await world.sim.runOrThrow(['deploy', broken, '-a', app.name, '--yes']);
      await waitUntilDegraded(app);

      const { workflowId } = await requestIncidentRunbook(kit.client, taskQueue, { app: app.name, environment: 'staging', reason: 'health 500', trigger });
      const { status } = await settle(kit.client, workflowId);
      expect(status.state).toBe('succeeded');
      expect(status.facts['rolled back to']).toBe(app.initialImage);
      expect(status.outcome).toMatch(/Restarting did not heal .*Rolled back to/);
      // The first machine did not come back healthy: the second was never restarted.
      expect(restartsOf(world.sim, app)).toHaveLength(1);
      expect(await world.servedBody(app)).toContain('v1');
      const entries = await readLedger(kit.client, { app: app.name, environment: 'staging' });
      expect(entries[0]).toMatchObject({ kind: 'rollback', image: app.initialImage, verdict: 'verified' });
    });
  });

  it('asks in Slack whether to roll back when the environment says pause, and keeps it when told to', { timeout: 120_000 }, async () => {
    const app = await world.createApp({ machines: 2, environment: { ...QUICK_HEALTH, incident: { ifStillFailing: 'pause' } } });
    await kit.withWorker(world.activities(), async (taskQueue) => {
      const broken = world.sim.makeSourceDir({ version: 'v2', failHealthAfterMs: 2500, restartHeals: false }, { app: app.name });
      await world.sim.runOrThrow(['deploy', broken, '-a', app.name, '--yes']);
      await waitUntilDegraded(app);
      const { workflowId } = await requestIncidentRunbook(kit.client, taskQueue, { app: app.name, environment: 'staging', reason: 'health 500', trigger });
      const waiting = await waitForStatus(kit.client, workflowId, 'a decision', (s) => s.state === 'waiting-for-decision');
      expect(waiting.outcome).toMatch(/Restarting did not heal .*Roll back to the last known good release or keep it/);
      await decideOnFailure(kit.client, workflowId, { decision: 'keep', actor: 'U_ONCALL' });
      const { status } = await settle(kit.client, workflowId);
      expect(status.state).toBe('failed');
      expect(status.outcome).toMatch(/U_ONCALL chose to keep it as it is; no rollback/);
      expect(rolloutsOf(world.sim, app)).toHaveLength(0);
    });
  });
});
