import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { cancelRun, requestDeploy } from '../../lib/operations.js';
import { isProcessRunning } from '../../sim/testing.js';
import { useDeployWorld, type TestApp } from '../helpers/deployWorld.js';
import { useWorkflowTestKit } from '../helpers/temporal.js';
import { deployRequest, isStageRunning, machineImages, releasesOf, rolloutsOf, settle, waitForStatus, waitUntil } from './support.js';

const kit = useWorkflowTestKit(fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)));
const world = useDeployWorld();
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'flightdeck-cancel-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/**
 * Replaces the commit's test script with one that starts a child (which writes its pid) and then
 * never finishes, as a hung integration test would.
 */
function commitHangingTests(app: TestApp, pidFile: string): string {
  app.repo.commit({ behaviour: { version: 'v2' } });
  const child = `require('fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setInterval(() => {}, 1000);`;
  fs.writeFileSync(path.join(app.repo.dir, 'test.js'),
    `require('child_process').spawn(process.execPath, ['-e', ${JSON.stringify(child)}], { stdio: 'ignore' });\nsetInterval(() => {}, 1000);\n`);
  const git = (args: string[]) => execFileSync('git', args, {
    cwd: app.repo.dir, encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 'Test', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 'Test', GIT_COMMITTER_EMAIL: 't@example.com' },
  }).trim();
  git(['commit', '--quiet', '-am', 'tests that hang']);
  return git(['rev-parse', 'HEAD']);
}

describe('cancelling a deploy', () => {
  it('during the tests: kills the test command with its children and deploys nothing', async () => {
    const app = await world.createApp();
    const pidFile = path.join(scratch, `${app.name}.pid`);
    const sha = commitHangingTests(app, pidFile);
    const { status } = await kit.withWorker(world.activities(), async (taskQueue) => {
      const { workflowId } = await requestDeploy(kit.client, taskQueue, deployRequest(app, sha));
      await waitForStatus(kit.client, workflowId, 'the test stage running', (s) => isStageRunning(s, 'test'));
      const testChildPid = await waitUntil('the test command\'s child to write its pid', () => fs.existsSync(pidFile) && Number(fs.readFileSync(pidFile, 'utf8')));
      expect(isProcessRunning(testChildPid)).toBe(true);

      await cancelRun(kit.client, workflowId, { actor: 'U_BOB', reason: 'wrong branch' });
      const settled = await settle(kit.client, workflowId);
      await waitUntil('the test command\'s child to be killed', () => !isProcessRunning(testChildPid));
      return settled;
    });
    expect(status.state).toBe('cancelled');
    expect(status.outcome).toBe('Cancelled during test; nothing was deployed.');
    expect(rolloutsOf(world.sim, app)).toHaveLength(0);
    expect(await machineImages(world.sim, app)).toEqual([app.initialImage, app.initialImage]);
  });

  it('during the rollout: stops flyctl, rolls back, and the previous image serves', async () => {
    const app = await world.createApp();
    // Slow to become healthy, so the rollout is still under way when the cancel arrives.
    const sha = app.repo.commit({ behaviour: { version: 'v2', healthyAfterMs: 15_000 } });
    const { status } = await kit.withWorker(world.activities(), async (taskQueue) => {
      const { workflowId } = await requestDeploy(kit.client, taskQueue, deployRequest(app, sha));
      await waitForStatus(kit.client, workflowId, 'the deploy stage running', (s) => isStageRunning(s, 'deploy'));
      await waitUntil('the new release rolling out', async () => (await releasesOf(world.sim, app))[0]?.Status === 'running');
      await cancelRun(kit.client, workflowId, { actor: 'U_BOB', reason: 'wrong branch' });
      return settle(kit.client, workflowId);
    });
    expect(status.state).toBe('rolled-back');
    expect(status.outcome).toMatch(/^cancelled by U_BOB during deploy\. Rolled back to /);
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
    expect(status.outcome).toMatch(/^cancelled by U_BOB during health\. Rolled back to /);
    expect(await machineImages(world.sim, app)).toEqual([app.initialImage, app.initialImage]);
    expect(await world.servedBody(app)).toContain('v1');
  });
});
