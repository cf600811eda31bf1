import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cancelRun, requestDeploy, requestRollback } from '../../lib/operations.js';
import { readLedger } from '../../lib/releaseLedgerClient.js';
import { useDeployWorld, type TestApp } from '../helpers/deployWorld.js';
import { processesWithMarker } from '../helpers/processes.js';
import { useWorkflowTestKit } from '../helpers/temporal.js';
import { deployRequest, isStageRunning, machineImages, releasesOf, rolloutsOf, settle, waitForStatus, waitUntil } from './support.js';

const kit = useWorkflowTestKit(fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)));
const world = useDeployWorld(kit);

/**
 * A commit whose test script starts a child (marked in its command line: the sandbox gives it pids of
 * its own namespace) and then never finishes, as a hung integration test would.
 */
function commitHangingTests(app: TestApp, marker: string): string {
  const testScript = `require('child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', '${marker}'], { stdio: 'ignore' });\nsetInterval(() => {}, 1000);\n`;
  return app.repo.commit({ behaviour: { version: 'v2' }, testScript });
}

// Each test has its own app and task queue, and most of a test is waiting: they run side by side,
// up to the config's maxConcurrency.
describe.concurrent('cancelling a deploy', () => {
  it('during the tests: kills the test command with its children and deploys nothing', async () => {
    const app = await world.createApp();
    const marker = `flightdeck-hung-test-${app.name}`;
    const sha = commitHangingTests(app, marker);
    const { status, closedAs } = await kit.withWorker(world.activities(), async (taskQueue) => {
      const { workflowId } = await requestDeploy(kit.client, taskQueue, deployRequest(app, sha));
      await waitForStatus(kit.client, workflowId, 'the test stage running', (s) => isStageRunning(s, 'test'));
      await waitUntil('the test command\'s child to start', () => processesWithMarker(marker).length > 0);

      await cancelRun(kit.client, workflowId, { actor: 'U_BOB', reason: 'wrong branch' });
      const settled = await settle(kit.client, workflowId);
      await waitUntil('the test command\'s child to be killed', () => processesWithMarker(marker).length === 0);
      return settled;
    });
    expect(closedAs).toBe('CANCELLED');
    expect(status.state).toBe('cancelled');
    expect(status.outcome).toBe('Cancelled by U_BOB (wrong branch) during test; nothing was deployed.');
    expect(status.facts).toMatchObject({ 'cancelled by': 'U_BOB', 'cancel reason': 'wrong branch' });
    expect(rolloutsOf(world.sim, app)).toHaveLength(0);
    expect(await machineImages(world.sim, app)).toEqual([app.initialImage, app.initialImage]);
  });

  it('during the rollout: stops flyctl, rolls back, and the previous image serves', async () => {
    const app = await world.createApp();
    // Slow to become healthy, so the rollout is still under way when the cancel arrives (a cancel
    // reaches the activity with its next heartbeat, up to 80% of the 20 s heartbeat timeout later).
    const sha = app.repo.commit({ behaviour: { version: 'v2', healthyAfterMs: 30_000 } });
    const { status, closedAs } = await kit.withWorker(world.activities(), async (taskQueue) => {
      const { workflowId } = await requestDeploy(kit.client, taskQueue, deployRequest(app, sha));
      await waitForStatus(kit.client, workflowId, 'the deploy stage running', (s) => isStageRunning(s, 'deploy'));
      await waitUntil('the new release rolling out', async () => (await releasesOf(world.sim, app))[0]?.Status === 'running');
      await cancelRun(kit.client, workflowId, { actor: 'U_BOB', reason: 'wrong branch' });
      return settle(kit.client, workflowId);
    });
    expect(closedAs).toBe('CANCELLED');
    expect(status.state).toBe('rolled-back');
    expect(status.outcome).toMatch(/^Cancelled by U_BOB \(wrong branch\) during deploy\. Rolled back to /);
    expect(status.facts['rolled back to']).toBe(app.initialImage);
    expect(await machineImages(world.sim, app)).toEqual([app.initialImage, app.initialImage]);
    expect(await world.servedBody(app)).toContain('v1');
    // Newest first: the rollback's release, then the cancelled one, whose flyctl was interrupted.
    const [rollbackRelease, cancelledRelease] = await releasesOf(world.sim, app);
    expect(rollbackRelease).toMatchObject({ ImageRef: app.initialImage, Status: 'complete' });
    expect(cancelledRelease!.Status).toBe('interrupted');
    expect(rolloutsOf(world.sim, app).map((c) => c.exitCode)).toEqual([127, 0]);
  });

  it('during the health verification: rolls back, and the previous image serves', async () => {
    // Fly's own checks (/health) pass; Flightdeck's probe of / keeps failing for a long while.
    const app = await world.createApp({ environment: { health: { path: '/', consecutiveSuccesses: 2, interval: '100ms', deadline: '5m', requestTimeout: '1s' } } });
    const sha = app.repo.commit({ behaviour: { version: 'v2', routes: { '/': { status: 503 } } } });
    const { status } = await kit.withWorker(world.activities(), async (taskQueue) => {
      const { workflowId } = await requestDeploy(kit.client, taskQueue, deployRequest(app, sha));
      await waitForStatus(kit.client, workflowId, 'the health stage running', (s) => isStageRunning(s, 'health'));
      await cancelRun(kit.client, workflowId, { actor: 'U_BOB', reason: 'taking too long' });
      return settle(kit.client, workflowId);
    });
    expect(status.state).toBe('rolled-back');
    expect(status.outcome).toMatch(/^Cancelled by U_BOB \(taking too long\) during health\. Rolled back to /);
    expect(await machineImages(world.sim, app)).toEqual([app.initialImage, app.initialImage]);
    expect(await world.servedBody(app)).toContain('v1');
  });

  it('during the automatic rollback: the rollback finishes first, and the previous image serves', async () => {
    const app = await world.createApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2', routes: { '/': { status: 500 } } } });
    const { status, rollbackId } = await kit.withWorker(world.activities(), async (taskQueue) => {
      const { workflowId } = await requestDeploy(kit.client, taskQueue, deployRequest(app, sha));
      await waitForStatus(kit.client, workflowId, 'the rollback running', (s) => isStageRunning(s, 'rollback'));
      await cancelRun(kit.client, workflowId, { actor: 'U_BOB', reason: 'stop everything' });
      return { ...(await settle(kit.client, workflowId)), rollbackId: `${workflowId}/rollback` };
    });
    expect(status.state).toBe('rolled-back');
    expect(status.outcome).toMatch(/Rolled back to .*passed health and smoke checks/);
    const rollback = await kit.client.workflow.getHandle(rollbackId).describe();
    expect(rollback.status.name).toBe('COMPLETED');
    expect(await machineImages(world.sim, app)).toEqual([app.initialImage, app.initialImage]);
    expect(await world.servedBody(app)).toContain('v1');
  });
});

describe.concurrent('cancelling a rollback', () => {
  it('during its rollout: the rollout finishes, the checks are skipped, and the run closes CANCELED saying so', { timeout: 240_000 }, async () => {
    const app = await world.createApp({ environment: { lockAfterRollback: false, rollbackStrategy: 'rolling' } });
    // The release to go back to takes seconds to become healthy, so its rollout is under way when the cancel comes.
    const slowGood = app.repo.commit({ behaviour: { version: 'v2', healthyAfterMs: 6000 } });
    const newest = app.repo.commit({ behaviour: { version: 'v3' } });
    const { deploys, settled, entries } = await kit.withWorker(world.activities(), async (taskQueue) => {
      const runs = [];
      for (const sha of [slowGood, newest]) runs.push((await settle(kit.client, (await requestDeploy(kit.client, taskQueue, deployRequest(app, sha))).workflowId)).status);
      const workflowId = await requestRollback(kit.client, taskQueue, {
        app: app.name, environment: 'staging', reason: 'v3 is slow', trigger: { source: 'cli', actor: 'dana' },
      });
      await waitForStatus(kit.client, workflowId, 'the rollback\'s deploy stage running', (s) => isStageRunning(s, 'deploy'));
      await waitUntil('the rollback\'s release rolling out', async () => (await releasesOf(world.sim, app))[0]?.Status === 'running');
      await cancelRun(kit.client, workflowId, { actor: 'U_BOB', reason: 'changed my mind' });
      const result = await settle(kit.client, workflowId);
      return { deploys: runs, settled: result, entries: await readLedger(kit.client, { app: app.name, environment: 'staging' }) };
    });
    expect(deploys.map((d) => d.state)).toEqual(['succeeded', 'succeeded']);
    const goodImage = String(deploys[0]!.facts.image);
    const { status, closedAs } = settled;
    expect(closedAs).toBe('CANCELLED');
    expect(status.state).toBe('cancelled');
    expect(status.outcome).toMatch(/^Cancelled by U_BOB \(changed my mind\) during deploy: .* was rolled back to \S+ \(release v\d+\), but its health and smoke checks were not run\./);
    expect(status.stages.find((s) => s.name === 'health')?.state).toBe('pending');
    // Never half rolled back: every machine runs the release the rollback deployed.
    expect(await machineImages(world.sim, app)).toEqual([goodImage, goodImage]);
    expect((await releasesOf(world.sim, app))[0]).toMatchObject({ ImageRef: goodImage, Status: 'complete' });
    expect(entries[0]).toMatchObject({ kind: 'rollback', image: goodImage, verdict: 'unverified' });
  });
});
