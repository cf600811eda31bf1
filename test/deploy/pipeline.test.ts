import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WorkflowFailedError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import type { RunStatus } from '../../lib/messages.js';
import { decideApproval, requestDeploy, requestRollback, runStatus } from '../../lib/operations.js';
import { FLY_TOKEN, SLACK_TOKEN, useDeployWorld, type TestApp } from '../helpers/deployWorld.js';
import { useWorkflowTestKit } from '../helpers/temporal.js';
import { deployRequest, rolloutsOf, settle, waitForStatus } from './support.js';

const kit = useWorkflowTestKit(fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)));
const world = useDeployWorld(kit);

/** Queues a deploy on a fresh worker and waits for the pipeline's outcome and final status. */
async function deployAndWait(app: TestApp, sha: string): Promise<{ status: RunStatus; error?: unknown; workflowId: string }> {
  return kit.withWorker(world.activities(), async (taskQueue) => {
    const { workflowId } = await requestDeploy(kit.client, taskQueue, deployRequest(app, sha));
    return { ...(await settle(kit.client, workflowId)), workflowId };
  });
}

// Each test its own app and worker: side by side, up to the config's maxConcurrency. The tests that
// make the simulator or Slack fail (for every caller) run afterwards, one at a time.
describe.concurrent('deploy pipeline', () => {
  it('tests, builds, deploys and verifies a healthy commit, and reports it in one Slack message', async () => {
    const app = await world.createApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    const { status, error } = await deployAndWait(app, sha);
    expect(error).toBeUndefined();
    expect(status.state).toBe('succeeded');
    expect(status.stages.map((s) => `${s.name}:${s.state}`)).toEqual([
      'preflight:succeeded', 'test:succeeded', 'build:succeeded', 'approval:skipped', 'migrate:skipped',
      'deploy:succeeded', 'health:succeeded', 'smoke:succeeded', 'bake:skipped',
    ]);
    expect(await world.servedBody(app)).toContain('v2');
    const message = world.slack.messages.find((m) => m.text.includes(app.name) && !m.threadTs);
    expect(message?.text).toContain('succeeded');
    expect(message?.history.length).toBeGreaterThan(1);
  });

  it('rolls back to the last known good image when health fails after the rollout', async () => {
    const app = await world.createApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2', health: 'fail' } });
    const { status, error } = await deployAndWait(app, sha);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect(status.state).toBe('rolled-back');
    expect(status.facts['rolled back to']).toBe(app.initialImage);
    expect(status.outcome).toMatch(/Rolled back to .*passed health and smoke checks/);
    expect(await world.servedBody(app)).toContain('v1');
    const machines = await world.sim.runJson<Array<{ config: { image: string } }>>(['machine', 'list', '-a', app.name]);
    expect(machines.every((m) => m.config.image === app.initialImage)).toBe(true);
  });

  it('rolls back when the smoke checks fail even though health passes', async () => {
    const app = await world.createApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2', routes: { '/': { status: 500 } } } });
    const { status } = await deployAndWait(app, sha);
    expect(status.state).toBe('rolled-back');
    expect(status.checks?.[0]).toMatchObject({ name: 'home', isPassed: false });
    expect(status.outcome).toMatch(/smoke checks failed: home \(GET \/: expected HTTP 200, got 500\)/);
    expect(await world.servedBody(app)).toContain('v1');
  });

  it('rolls back by hand only to an image the app has released, never to an arbitrary one', async () => {
    const app = await world.createApp();
    const rollBackTo = (image: string) => kit.withWorker(world.activities(), async (taskQueue) => {
      const workflowId = await requestRollback(kit.client, taskQueue, {
        app: app.name, environment: 'staging', target: { image }, reason: 'test', trigger: { source: 'cli', actor: 'dana' },
      });
      return settle(kit.client, workflowId);
    });
    const foreign = await rollBackTo('registry.example.com/mallory/shop:latest');
    expect(foreign.status.state).toBe('failed');
    expect(foreign.status.outcome).toContain(`registry.example.com/mallory/shop:latest is not an image ${app.name} has released`);
    expect(rolloutsOf(world.sim, app)).toHaveLength(0);

    const released = await rollBackTo(app.initialImage);
    expect(released.status.state).toBe('succeeded');
    expect(rolloutsOf(world.sim, app).map((r) => r.argv)).toEqual([expect.arrayContaining([app.initialImage])]);
  });

  it('rolls back a crash-looping release', async () => {
    const app = await world.createApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2', crashOnStart: true } });
    const { status } = await deployAndWait(app, sha);
    expect(status.state).toBe('rolled-back');
    expect(await world.servedBody(app)).toContain('v1');
  });

  it('deploys nothing when the tests fail', async () => {
    const app = await world.createApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' }, testExitCode: 3 });
    const deploysOfApp = () => world.sim.callLog().filter((c) => c.command === 'deploy' && c.argv.includes(app.name)).length;
    const deploysBefore = deploysOfApp();
    const { status, workflowId } = await deployAndWait(app, sha);
    expect(status.state).toBe('failed');
    expect(status.outcome).toMatch(/test failed: tests \(node test.js\) failed with exit code 3.*Nothing was deployed/);
    expect(deploysOfApp()).toBe(deploysBefore);
    // The failed tests' checkout is removed with them, not left on the worker's disk.
    expect(fs.existsSync(path.join(world.workDir, workflowId.replace(/[^A-Za-z0-9._-]/g, '_')))).toBe(false);
  });

  it('wakes the run once per activity on the preflight, test, deploy and health stages: the target and the reads are one activity, the checkout and the tests are one activity, the ledger entry is one activity beside the rollout, the probe and the machine checks are one activity', async () => {
    const app = await world.createApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    const { status, workflowId } = await deployAndWait(app, sha);
    expect(status.state).toBe('succeeded');
    const events = (await kit.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
    // Each scheduled activity with the workflow task that scheduled it: the same task means at once.
    const scheduled = events.flatMap((e) => (e.activityTaskScheduledEventAttributes
      ? [{ name: e.activityTaskScheduledEventAttributes.activityType?.name, task: String(e.activityTaskScheduledEventAttributes.workflowTaskCompletedEventId) }]
      : []));
    const tasksOf = (name: string) => scheduled.filter((a) => a.name === name).map((a) => a.task);
    // Preflight: one activity resolves the target and reads; the first workflow task runs no local activity.
    expect(tasksOf('resolveAndReadPreflight')).toHaveLength(1);
    expect(tasksOf('readPreflight')).toEqual([]);
    expect(events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')).toEqual([]);
    expect(tasksOf('checkoutAndTest')).toHaveLength(1);
    expect(tasksOf('checkoutCommit')).toEqual([]);
    expect(tasksOf('runWorkspaceCommand')).toEqual([]);
    // The fly.toml read and the `deploying` entry: one activity, scheduled with the rollout.
    expect(tasksOf('recordDeploying')).toEqual(tasksOf('flyDeployImage'));
    expect(tasksOf('readFlyConfig')).toEqual([]);
    // Health: one activity (a probeHealth may still adopt the image serving before Flightdeck's first deploy).
    expect(tasksOf('verifyAppHealth')).toHaveLength(1);
    expect(tasksOf('flyMachineChecks')).toEqual([]);
  });

  it('rolls nothing out when the release_command fails, and says so', async () => {
    const app = await world.createApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2', releaseCommand: { exitCode: 1, output: ['migration failed'] } }, flyToml: { releaseCommand: 'bin/migrate' } });
    const { status } = await deployAndWait(app, sha);
    expect(status.state).toBe('failed');
    expect(status.outcome).toMatch(/Nothing was rolled out, so nothing was rolled back: .*release command failed/);
    expect(status.stages.find((s) => s.name === 'rollback')).toBeUndefined();
    expect(await world.servedBody(app)).toContain('v1');
  });

  it('gives a re-delivered trigger the run it already started', async () => {
    const app = await world.createApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    await kit.withWorker(world.activities(), async (taskQueue) => {
      const first = await requestDeploy(kit.client, taskQueue, deployRequest(app, sha, 'delivery-1'));
      const second = await requestDeploy(kit.client, taskQueue, deployRequest(app, sha, 'delivery-1'));
      expect(second).toMatchObject({ workflowId: first.workflowId, disposition: 'duplicate' });
      await kit.client.workflow.getHandle(first.workflowId).result();
    });
  });

  it('waits for an approver, refuses anyone else, and records who approved', async () => {
    const app = await world.createApp({ environment: { approval: { required: true, approvers: ['U_ALICE'], timeout: '1m' } } });
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    await kit.withWorker(world.activities(), async (taskQueue) => {
      const { workflowId } = await requestDeploy(kit.client, taskQueue, deployRequest(app, sha));
      await waitForStatus(kit.client, workflowId, 'waiting for approval', (s) => s.state === 'waiting-for-approval');
      await expect(decideApproval(kit.client, workflowId, { isApproved: true, actor: 'U_MALLORY' })).rejects.toThrow(/U_MALLORY is not an approver/);
      await decideApproval(kit.client, workflowId, { isApproved: true, actor: 'U_ALICE' });
      await kit.client.workflow.getHandle(workflowId).result();
      const status = await runStatus(kit.client, workflowId);
      expect(status.state).toBe('succeeded');
      expect(status.facts['approved by']).toBe('U_ALICE');
    });
  });

  it('abandons a deploy nobody approves in time, changing nothing', async () => {
    const app = await world.createApp({ environment: { approval: { required: true, approvers: ['U_ALICE'], timeout: '2s' } } });
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    const { status } = await deployAndWait(app, sha);
    expect(status.state).toBe('failed');
    expect(status.outcome).toMatch(/Nobody approved within 2s/);
    expect(await world.servedBody(app)).toContain('v1');
  });

  it('never writes the Fly token or the Slack token into workflow history', async () => {
    const app = await world.createApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    const { workflowId } = await deployAndWait(app, sha);
    const history = JSON.stringify(await kit.client.workflow.getHandle(workflowId).fetchHistory());
    expect(history.length).toBeGreaterThan(1000);
    expect(history).not.toContain(FLY_TOKEN);
    expect(history).not.toContain(SLACK_TOKEN);
  });
});

describe('deploy pipeline, with the simulator or Slack failing for every caller', () => {
  it('retries transient flyctl errors and still deploys', async () => {
    const app = await world.createApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    await world.sim.injectFault('status', { kind: 'rate-limited', times: 2 });
    const { status } = await deployAndWait(app, sha);
    expect(status.state).toBe('succeeded');
    expect(world.sim.callLog().filter((c) => c.fault).length).toBeGreaterThanOrEqual(2);
  });

  it('fails fast without retries on a permanent flyctl error', async () => {
    const app = await world.createApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    await world.sim.injectFault('secrets list', { kind: 'fail', message: 'failed to get app: Could not find App "x"', times: 1 });
    const before = world.sim.callCount('secrets list');
    const { status } = await deployAndWait(app, sha);
    expect(status.state).toBe('failed');
    expect(status.outcome).toMatch(/preflight failed: flyctl secrets list failed: failed to get app: Could not find App/);
    expect(world.sim.callCount('secrets list')).toBe(before + 1);
  });

  it('keeps Slack failures out of the outcome and brings the message up to date once Slack recovers', async () => {
    const app = await world.createApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    world.slack.failNext(3, { status: 500 });
    world.slack.failNext(1, { status: 429, retryAfterSeconds: 1 });
    const { status } = await deployAndWait(app, sha);
    expect(status.state).toBe('succeeded');
    const messages = world.slack.messages.filter((m) => m.text.includes(app.name) && !m.threadTs);
    expect(messages).toHaveLength(1);
    expect(messages[0]!.text).toContain('succeeded');
  });
});
