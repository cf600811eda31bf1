// Automatic promotion (promotion.auto) on the real worker and simulator: once a release staging
// verified has soaked there, production's promotion is requested by itself, through production's
// approval; a newer verified release replaces one still soaking.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decideApproval, offerForAutoPromotion, requestDeploy } from '../../lib/operations.js';
import { autoPromotionId, autoPromotionStatusQuery, type AutoPromotionStatus } from '../../lib/promotion.js';
import { readLedger } from '../../lib/releaseLedgerClient.js';
import { useDeployWorld } from '../helpers/deployWorld.js';
import { useWorkflowTestKit } from '../helpers/temporal.js';
import { createStagedAppIn, deployRequest, rolloutsOf, settle, waitForStatus, waitUntil, type StagedApp } from './support.js';

const kit = useWorkflowTestKit(fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)));
const world = useDeployWorld(kit);

async function verifyInStaging(taskQueue: string, staged: StagedApp, version: string) {
  const { workflowId } = await requestDeploy(kit.client, taskQueue, deployRequest(staged.app, staged.app.repo.commit({ behaviour: { version } })));
  const { status } = await settle(kit.client, workflowId);
  expect(status.state).toBe('succeeded');
  // The soak counts from the ledger's verdict, written just before the run's own final status.
  const entry = (await readLedger(kit.client, { app: staged.app.name, environment: 'staging' })).find((e) => e.id === workflowId);
  expect(entry?.finishedAt).toBeDefined();
  return { workflowId, image: String(status.facts.image), verifiedAt: entry!.finishedAt! };
}

function autoPromotionStatus(staged: StagedApp): Promise<AutoPromotionStatus> {
  return kit.client.workflow.getHandle(autoPromotionId(staged.app.name, 'production')).query(autoPromotionStatusQuery);
}

describe('automatic promotion', () => {
  it("requests production's promotion by itself once the verified release has soaked, and production's approval still applies", async () => {
    const staged = await createStagedAppIn(world, { promotion: { from: 'staging', soak: '3s', auto: true }, approval: { required: true, approvers: ['U_ALICE'] } });
    await kit.withWorker(world.activities(), async (taskQueue) => {
      const verified = await verifyInStaging(taskQueue, staged, 'v2');
      const last = await waitUntil('the automatic promotion', async () => (await autoPromotionStatus(staged)).last);
      expect(last).toMatchObject({ outcome: 'requested', image: verified.image, entryId: verified.workflowId });
      const promoted = await waitForStatus(kit.client, last.workflowId!, 'waiting for approval', (s) => s.state === 'waiting-for-approval');
      expect(Date.parse(promoted.startedAt)).toBeGreaterThanOrEqual(Date.parse(verified.verifiedAt) + 3000);
      expect(promoted.trigger).toMatchObject({ source: 'pipeline', actor: 'flightdeck:auto-promotion' });
      await decideApproval(kit.client, last.workflowId!, { isApproved: true, actor: 'U_ALICE' });
      expect((await settle(kit.client, last.workflowId!)).status.state).toBe('succeeded');
      expect(rolloutsOf(world.sim, staged.production).map((r) => r.argv.includes(verified.image))).toEqual([true]);
    });
  });

  it('promotes only the newer of two verified releases when the second comes while the first is still soaking', async () => {
    // Offered by hand (as the ledger does), so both are soaking at once whatever the machine's load.
    const staged = await createStagedAppIn(world, { promotion: { from: 'staging', soak: '0s', auto: false } });
    await kit.withWorker(world.activities(), async (taskQueue) => {
      await verifyInStaging(taskQueue, staged, 'v2');
      await verifyInStaging(taskQueue, staged, 'v3');
      (world.apps[staged.app.name] as { environments: { production: Record<string, unknown> } }).environments.production.promotion = { from: 'staging', auto: true };
      const [v3, v2] = await readLedger(kit.client, { app: staged.app.name, environment: 'staging' });
      const promotableAt = new Date(Date.now() + 2000).toISOString();
      for (const entry of [v2!, v3!]) {
        await offerForAutoPromotion(kit.client, taskQueue, { app: staged.app.name, from: 'staging', to: 'production', candidate: { entryId: entry.id, image: entry.image, promotableAt } });
      }
      const status = await waitUntil('the automatic promotion', async () => { const s = await autoPromotionStatus(staged); return s.last && s; });
      expect(status.superseded).toEqual([v2!.id]);
      expect(status.last).toMatchObject({ outcome: 'requested', image: v3!.image });
      expect((await settle(kit.client, status.last!.workflowId!)).status.state).toBe('succeeded');
      expect(rolloutsOf(world.sim, staged.production).map((r) => r.argv.includes(v3!.image))).toEqual([true]);
    });
  });
});
