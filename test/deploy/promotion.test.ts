// Promotion on the real worker and simulator: production gets exactly the image staging verified,
// with staging's fly.toml, read from staging's release ledger; production's soak and approval apply.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAppsConfig } from '../../lib/config.js';
import { decideApproval, requestDeploy, requestPromotion, type PromotionInput } from '../../lib/operations.js';
import { PromotionRefused } from '../../lib/promotion.js';
import { readLedger } from '../../lib/releaseLedgerClient.js';
import { useDeployWorld, type TestApp } from '../helpers/deployWorld.js';
import { useWorkflowTestKit } from '../helpers/temporal.js';
import { createStagedAppIn, deployRequest, rolloutsOf, settle, waitForStatus, type StagedApp } from './support.js';

const kit = useWorkflowTestKit(fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)));
const world = useDeployWorld(kit);

const createStagedApp = (production: Record<string, unknown> = {}) => createStagedAppIn(world, production);

function promote(taskQueue: string, staged: StagedApp, extra: Partial<PromotionInput> = {}) {
  return requestPromotion(kit.client, taskQueue, parseAppsConfig({ apps: world.apps }), {
    app: staged.app.name, from: 'staging', to: 'production', trigger: { source: 'cli', actor: 'dana', identity: 'cli:dana' }, ...extra,
  });
}

async function verifyInStaging(taskQueue: string, staged: StagedApp, version: string): Promise<string> {
  const { workflowId } = await requestDeploy(kit.client, taskQueue, deployRequest(staged.app, staged.app.repo.commit({ behaviour: { version } })));
  const { status } = await settle(kit.client, workflowId);
  expect(status.state).toBe('succeeded');
  return String(status.facts.image);
}

const body = async (app: TestApp) => (await fetch(`${app.appUrl}/`)).text();

describe('promotion', () => {
  it('deploys to production exactly the image staging verified, with its fly.toml, never rebuilt', async () => {
    const staged = await createStagedApp();
    await kit.withWorker(world.activities(), async (taskQueue) => {
      const image = await verifyInStaging(taskQueue, staged, 'v2');
      const buildsBefore = world.sim.callLog().filter((c) => c.command === 'deploy' && !c.argv.includes('--image')).length;
      const promoted = await promote(taskQueue, staged);
      expect(promoted.image).toBe(image);
      const { status } = await settle(kit.client, promoted.workflowId);
      expect(status.state).toBe('succeeded');
      expect(status.facts['promoted from']).toMatch(/^staging \(deploy\//);
      expect(status.stages.find((s) => s.name === 'build')).toMatchObject({ state: 'skipped', detail: 'promoted from staging' });
      expect(await body(staged.production)).toContain('v2');
      const rollouts = rolloutsOf(world.sim, staged.production);
      expect(rollouts).toHaveLength(1);
      expect(rollouts[0]!.argv).toContain(image);
      expect(rollouts[0]!.argv).toContain('--config');
      expect(world.sim.callLog().filter((c) => c.command === 'deploy' && !c.argv.includes('--image')).length).toBe(buildsBefore);
      const [entry] = await readLedger(kit.client, { app: staged.app.name, environment: 'production' });
      expect(entry).toMatchObject({ image, verdict: 'verified', flyConfig: { sha256: expect.any(String) } });
    });
  });

  it('refuses an image staging has not verified, and an environment with no verified release, starting nothing', async () => {
    const staged = await createStagedApp();
    await kit.withWorker(world.activities(), async (taskQueue) => {
      await expect(promote(taskQueue, staged)).rejects.toThrow(new PromotionRefused(`${staged.app.name}/staging has no verified release to promote: deploy there first, and let it pass health, smoke and bake`));
      const bad = staged.app.repo.commit({ behaviour: { version: 'v3', routes: { '/': { status: 500 } } } });
      const { workflowId } = await requestDeploy(kit.client, taskQueue, deployRequest(staged.app, bad));
      const { status } = await settle(kit.client, workflowId);
      expect(status.state).toBe('rolled-back');
      await expect(promote(taskQueue, staged, { image: String(status.facts.image) })).rejects.toThrow(/is not a release .*\/staging has verified/);
      expect(rolloutsOf(world.sim, staged.production)).toHaveLength(0);
    });
  });

  it("waits for production's soak time, takes promotions only from its source, and asks production's approvers", async () => {
    const soaking = await createStagedApp({ promotion: { from: 'staging', soak: '1h' } });
    const approved = await createStagedApp({ promotion: { from: 'staging' }, approval: { required: true, approvers: ['U_ALICE'] } });
    await kit.withWorker(world.activities(), async (taskQueue) => {
      await verifyInStaging(taskQueue, soaking, 'v2');
      await expect(promote(taskQueue, soaking)).rejects.toThrow(/must soak there until .* \((59|60) min from now\) before it is promoted/);
      await expect(promote(taskQueue, soaking, { from: 'qa' })).rejects.toThrow(/has no environment "qa"|takes promotions from staging only/);

      await verifyInStaging(taskQueue, approved, 'v2');
      const promoted = await promote(taskQueue, approved);
      await waitForStatus(kit.client, promoted.workflowId, 'waiting for approval', (s) => s.state === 'waiting-for-approval');
      await decideApproval(kit.client, promoted.workflowId, { isApproved: true, actor: 'U_ALICE' });
      expect((await settle(kit.client, promoted.workflowId)).status.state).toBe('succeeded');
      expect(await body(approved.production)).toContain('v2');
    });
  });
});
