import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decideOnFailure, requestDeploy } from '../../lib/operations.js';
import { useDeployWorld, type TestApp } from '../helpers/deployWorld.js';
import { useWorkflowTestKit } from '../helpers/temporal.js';
import { deployRequest, machineImages, releasesOf, rolloutsOf, settle, waitForStatus, waitUntil } from './support.js';

const kit = useWorkflowTestKit(fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)));
const world = useDeployWorld(kit);

/** Our own probe reads `/`, which the broken commit answers with 500, while Fly's checks (/health) pass. */
const HEALTH_ON_HOME = { path: '/', consecutiveSuccesses: 2, interval: '100ms', deadline: '2s', requestTimeout: '1s' };
const BROKEN_HOME = { version: 'v2', routes: { '/': { status: 500, body: 'broken\n' } } };

function pausingApp(pauseTimeout: string): Promise<TestApp> {
  return world.createApp({ environment: { onFailure: 'pause', pauseTimeout, health: HEALTH_ON_HOME } });
}

// Each test has its own app (and task queue): they run side by side, up to the config's maxConcurrency.
describe.concurrent('failure policy', () => {
  it('rolls nothing out when the release_command outlives its timeout (flyctl exits 1, not 126), and says so', async () => {
    const app = await world.createApp();
    const sha = app.repo.commit({
      behaviour: { version: 'v2', releaseCommand: { exitCode: 0, durationMs: 30_000 } },
      flyToml: { releaseCommand: 'bin/migrate', releaseCommandTimeout: '1s' },
    });
    const { status } = await kit.withWorker(world.activities(), async (taskQueue) => {
      const { workflowId } = await requestDeploy(kit.client, taskQueue, deployRequest(app, sha));
      return settle(kit.client, workflowId);
    });
    expect(status.state).toBe('failed');
    expect(status.outcome).toMatch(/Nothing was rolled out, so nothing was rolled back: .*did not finish within its release_command_timeout/);
    expect(status.stages.find((s) => s.name === 'deploy')?.state).toBe('failed');
    expect(status.stages.find((s) => s.name === 'rollback')).toBeUndefined();
    expect(rolloutsOf(world.sim, app)).toHaveLength(1);
    expect(rolloutsOf(world.sim, app)[0]!.exitCode).toBe(1);
    expect(await machineImages(world.sim, app)).toEqual([app.initialImage, app.initialImage]);
  });

  it('with onFailure pause, asks in Slack whether to roll back, and keeps the new release when told to keep it', async () => {
    const app = await pausingApp('10m');
    const sha = app.repo.commit({ behaviour: BROKEN_HOME });
    await kit.withWorker(world.activities(), async (taskQueue) => {
      const { workflowId } = await requestDeploy(kit.client, taskQueue, deployRequest(app, sha));
      const waiting = await waitForStatus(kit.client, workflowId, 'waiting for a decision', (s) => s.state === 'waiting-for-decision');
      expect(waiting.outcome).toMatch(/health failed: .*Roll back or keep\? Rolling back in 10m unless someone decides/);

      const question = await waitUntil('the Slack message with the roll back / keep buttons', () =>
        world.slack.messages.find((m) => !m.threadTs && m.text.includes(app.name) && m.text.includes('roll back or keep?') && hasButtons(m.blocks)));
      expect(buttonActions(question.blocks)).toEqual(['flightdeck_rollback', 'flightdeck_keep']);

      await decideOnFailure(kit.client, workflowId, { decision: 'keep', actor: 'U_ALICE' });
      const { status } = await settle(kit.client, workflowId);
      expect(status.state).toBe('failed');
      expect(status.facts['kept by']).toBe('U_ALICE');
      expect(status.outcome).toMatch(/U_ALICE chose to keep the new release; no rollback/);
      expect(status.stages.find((s) => s.name === 'rollback')).toBeUndefined();
    });
    const newImage = (await releasesOf(world.sim, app))[0]!.ImageRef;
    expect(newImage).not.toBe(app.initialImage);
    expect(await machineImages(world.sim, app)).toEqual([newImage, newImage]);
    expect(rolloutsOf(world.sim, app)).toHaveLength(1);
  });

  it('with onFailure pause, rolls back by itself when nobody answers within the pause timeout', async () => {
    const app = await pausingApp('1s');
    const sha = app.repo.commit({ behaviour: BROKEN_HOME });
    const { status } = await kit.withWorker(world.activities(), async (taskQueue) => {
      const { workflowId } = await requestDeploy(kit.client, taskQueue, deployRequest(app, sha));
      await waitForStatus(kit.client, workflowId, 'waiting for a decision', (s) => s.state === 'waiting-for-decision');
      return settle(kit.client, workflowId);
    });
    expect(status.state).toBe('rolled-back');
    expect(status.facts['rollback decided by']).toBe('nobody within 1s');
    expect(status.facts['rolled back to']).toBe(app.initialImage);
    expect(await machineImages(world.sim, app)).toEqual([app.initialImage, app.initialImage]);
    expect(await world.servedBody(app)).toContain('v1');
  });

  it('rolls back with the app\'s own checks even when the worker runs beside an unrelated fly.toml', async () => {
    // flyctl reads fly.toml from its working directory; the worker's must never leak into a deploy.
    const strayDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flightdeck-stray-'));
    fs.writeFileSync(path.join(strayDir, 'fly.toml'), 'app = "someone-else"\n\n[http_service]\n  internal_port = 8080\n\n  [[http_service.checks]]\n    path = "/not-this-app"\n');
    const app = await world.createApp({ environment: { health: HEALTH_ON_HOME } });
    const sha = app.repo.commit({ behaviour: BROKEN_HOME });
    const workerDir = process.cwd();
    process.chdir(strayDir);
    try {
      const { status } = await kit.withWorker(world.activities(), async (taskQueue) => {
        const { workflowId } = await requestDeploy(kit.client, taskQueue, deployRequest(app, sha));
        return settle(kit.client, workflowId);
      });
      expect(status.state).toBe('rolled-back');
      expect(status.outcome).toMatch(/Rolled back to .*, which passed health and smoke checks/);
    } finally {
      process.chdir(workerDir);
      fs.rmSync(strayDir, { recursive: true, force: true });
    }
    expect(await machineImages(world.sim, app)).toEqual([app.initialImage, app.initialImage]);
  });
});

type Block = { type: string; elements?: Array<{ type: string; action_id?: string }> };

function buttonActions(blocks: unknown[] | undefined): string[] {
  return ((blocks ?? []) as Block[]).filter((b) => b.type === 'actions').flatMap((b) => (b.elements ?? []).map((e) => e.action_id ?? ''));
}

function hasButtons(blocks: unknown[] | undefined): boolean {
  return buttonActions(blocks).length > 0;
}
