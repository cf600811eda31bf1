// Flightdeck against a simulator that behaves as the real flyctl does (issue 14), on the real
// Temporal server: text blocks on stderr, deploy tokens, LOG_LEVEL, exit codes 126 and 127, pending
// releases, stopped machines, working directories. Each test names the behaviour it pins down.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { RunStatus } from '../../lib/messages.js';
import { requestDeploy, requestRollback } from '../../lib/operations.js';
import { useDeployWorld, type TestApp } from '../helpers/deployWorld.js';
import { useWorkflowTestKit } from '../helpers/temporal.js';
import { deployRequest, machineImages, releasesOf, rolloutsOf, settle, waitUntil } from './support.js';

const kit = useWorkflowTestKit(fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)));
const world = useDeployWorld(kit);

const DEPLOY_TOKEN = 'FlyV1 fm2_lJPECAAAAAAAAnever_in_history_5b7e';

/** Queues a deploy on a fresh worker (with this worker configuration) and waits for its outcome. */
async function deployAndWait(app: TestApp, sha: string, env: Record<string, string> = {}, image?: string): Promise<{ status: RunStatus; workflowId: string }> {
  return kit.withWorker(world.activities({}, env), async (taskQueue) => {
    const { workflowId } = await requestDeploy(kit.client, taskQueue, { ...deployRequest(app, sha), ...(image ? { image } : {}) });
    return { ...(await settle(kit.client, workflowId)), workflowId };
  });
}

function stage(status: RunStatus, name: string) {
  return status.stages.find((s) => s.name === name);
}

/** Runs fn with extra variables in the worker's (this process's) environment, as a worker would be started with them. */
async function withWorkerEnvironment<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

// Each test its own app and worker, nothing process-wide: side by side, up to the config's maxConcurrency.
describe.concurrent('flyctl fidelity: failures decided from the final error and from Fly\'s state', () => {
  it('(14.1) with a deploy token, a failed release_command whose logs look like an auth failure stops with nothing rolled out', async () => {
    const app = await world.createApp();
    const sha = app.repo.commit({
      behaviour: { version: 'v2', releaseCommand: { exitCode: 1, output: ['Error: 401 Unauthorized: not authorized to read orders', 'migration failed'] } },
      flyToml: { releaseCommand: 'bin/migrate' },
    });
    const { status } = await deployAndWait(app, sha, { FLY_API_TOKEN: DEPLOY_TOKEN });
    expect(status.state).toBe('failed');
    expect(status.outcome).toMatch(/Nothing was rolled out, so nothing was rolled back: release command failed - aborting deployment\. machine \w+ exited with non-zero status of 1/);
    expect(stage(status, 'rollback')).toBeUndefined();
    expect(await machineImages(world.sim, app)).toEqual([app.initialImage, app.initialImage]);
    const failedRollout = rolloutsOf(world.sim, app)[0]!;
    expect(failedRollout.exitCode).toBe(1);
  });

  it('(14.3) exit 126 after machines were updated (a machine_checks test machine outliving its timeout) rolls back, release_command or not', async () => {
    const app = await world.createApp({ environment: { waitTimeout: '5s' } });
    const sha = app.repo.commit({
      behaviour: { version: 'v2', releaseCommand: { exitCode: 0 }, machineCheck: { durationMs: 60_000 } },
      flyToml: { releaseCommand: 'bin/migrate', releaseCommandTimeout: '1s', machineChecks: true },
    });
    const { status } = await deployAndWait(app, sha);
    expect(rolloutsOf(world.sim, app)[0]!.exitCode).toBe(126);
    expect(status.state).toBe('rolled-back');
    expect(status.outcome).toMatch(/test command machine .* exit event: context deadline exceeded.*machines were changed.*Rolled back to/);
    expect(await machineImages(world.sim, app)).toEqual([app.initialImage, app.initialImage]);
  });

  it('(14.4) a rolling update failing on a non-first machine (exit 127, no Error line) is a rollout failure with the reason from stdout', async () => {
    const app = await world.createApp({ machines: 3, environment: { waitTimeout: '2s' } });
    const sha = app.repo.commit({ behaviour: { version: 'v2', health: 'fail-except-first' } });
    const { status } = await deployAndWait(app, sha);
    const rollout = rolloutsOf(world.sim, app)[0]!;
    expect(rollout.exitCode).toBe(127);
    expect(status.state).toBe('rolled-back');
    expect(status.outcome).toMatch(/interrupted \(exit 127\): .*update failed: timeout reached waiting for health checks to pass/);
    expect(await machineImages(world.sim, app)).toEqual([app.initialImage, app.initialImage, app.initialImage]);
    expect((await releasesOf(world.sim, app)).find((r) => r.Version === rollout.releaseVersion)?.Status).toBe('interrupted');
  });

  it('(14.11) an invalid fly.toml fails with the validation details flyctl prints on stdout, deploying nothing', async () => {
    const app = await world.createApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' }, flyToml: { extraToml: '[checks.ready]\n  type = "http"\n  port = 8080\n  path = "/health"\n  interval = "1s"' } });
    const { status } = await deployAndWait(app, sha);
    expect(status.state).toBe('failed');
    expect(status.outcome).toMatch(/App configuration is not valid: Check 'ready' interval is too short: 1s, minimum is 2 seconds/);
    expect(rolloutsOf(world.sim, app)).toHaveLength(0);
  });

  it('(contract, issue 12) an image that cannot be fetched fails with flyctl\'s words, touches no machine and is not rolled back', async () => {
    const app = await world.createApp();
    const missing = `registry.fly.io/${app.name}:never-pushed`;
    const { status } = await deployAndWait(app, app.repo.commit({ behaviour: { version: 'v2' } }), {}, missing);
    expect(status.state).toBe('failed');
    expect(status.outcome).toMatch(/Nothing was rolled out, so nothing was rolled back: failed to fetch an image or build from source: could not find image "registry\.fly\.io\/.*:never-pushed"/);
    expect(stage(status, 'rollback')).toBeUndefined();
    expect(await releasesOf(world.sim, app)).toHaveLength(1);
    expect(await machineImages(world.sim, app)).toEqual([app.initialImage, app.initialImage]);
  });

  it('(14.12) a bluegreen deploy whose green machines never get healthy exits 126 with blue untouched: nothing to roll back', async () => {
    const app = await world.createApp({ environment: { strategy: 'bluegreen', waitTimeout: '2s' } });
    const sha = app.repo.commit({ behaviour: { version: 'v2', health: 'fail' } });
    const { status } = await deployAndWait(app, sha);
    expect(rolloutsOf(world.sim, app)[0]!.exitCode).toBe(126);
    expect(status.state).toBe('failed');
    expect(status.outcome).toMatch(/Nothing was rolled out, so nothing was rolled back: .*could not get all green machines to be healthy/);
    expect(stage(status, 'rollback')).toBeUndefined();
    expect(await machineImages(world.sim, app)).toEqual([app.initialImage, app.initialImage]);
  });
});

describe('flyctl fidelity: where and how flyctl runs', () => {
  it('(14.6) runs flyctl in the fly.toml\'s directory, so a relative [[files]] local_path resolves', async () => {
    const app = await world.createApp();
    fs.mkdirSync(path.join(app.repo.dir, 'config'), { recursive: true });
    fs.writeFileSync(path.join(app.repo.dir, 'config', 'app.yaml'), 'greeting: hello\n');
    const sha = app.repo.commit({ behaviour: { version: 'v2' }, flyToml: { extraToml: '[[files]]\n  guest_path = "/app/config.yaml"\n  local_path = "config/app.yaml"' } });
    const { status } = await deployAndWait(app, sha);
    expect(status.state).toBe('succeeded');
    expect(await world.servedBody(app)).toContain('v2');
  });

  it('(14.8) judges only started machines\' checks: a stopped machine does not fail a healthy deploy', async () => {
    const app = await world.createApp({ machines: 3 });
    const machines = await world.sim.runJson<Array<{ id: string }>>(['machine', 'list', '-a', app.name]);
    await world.sim.stopMachine(app.name, machines.at(-1)!.id);
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    const { status } = await deployAndWait(app, sha);
    expect(status.state).toBe('succeeded');
    expect(stage(status, 'health')?.detail).toMatch(/2 machine checks passing/);
    const checks = await world.sim.runJson<Record<string, unknown[]>>(['checks', 'list', '-a', app.name]);
    expect(Object.keys(checks)).toHaveLength(3);
  });

  it('(14.9) takes the built image\'s ref from flyctl\'s stderr, on the registry FLY_REGISTRY_HOST names', async () => {
    const app = await world.createApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    const { status } = await deployAndWait(app, sha, { FLY_REGISTRY_HOST: 'registry.example.test' });
    expect(status.state).toBe('succeeded');
    expect(status.facts.image).toMatch(new RegExp(`^registry\\.example\\.test/${app.name}:`));
    expect(rolloutsOf(world.sim, app)[0]!.deployedImage).toBe(status.facts.image);
  });

  it('(14.9) with [build] image in fly.toml, deploys that image (nothing is built under the label)', async () => {
    const app = await world.createApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' }, flyToml: { extraToml: `[build]\n  image = ${JSON.stringify(app.initialImage)}` } });
    const { status } = await deployAndWait(app, sha);
    expect(status.state).toBe('succeeded');
    expect(status.facts.image).toBe(app.initialImage);
    expect(rolloutsOf(world.sim, app)[0]!.deployedImage).toBe(app.initialImage);
  });

  it('(14.10) refuses waitTimeout 1d before anything runs: flyctl\'s Go durations have no d', async () => {
    const app = await world.createApp({ environment: { waitTimeout: '1d' } });
    try {
      const sha = app.repo.commit({ behaviour: { version: 'v2' } });
      const deploysBefore = world.sim.callCount('deploy');
      const { status } = await deployAndWait(app, sha);
      expect(status.state).toBe('failed');
      expect(status.outcome).toMatch(/waitTimeout: a duration flyctl accepts, like 30s, 5m or 1h30m \(Go durations have no d unit: write 24h\)/);
      expect(world.sim.callCount('deploy')).toBe(deploysBefore);
    } finally {
      // The apps file is shared by the file's tests: an invalid entry would fail every later one.
      delete world.apps[app.name];
    }
  });
});

describe('flyctl fidelity: retries find their own release', () => {
  it('(14.7, 13.1) a rollback retried after a 429 deploys the image again instead of matching the release that first shipped it', { timeout: 180_000 }, async () => {
    const app = await world.createApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    // One worker for both runs: the release ledger the deploy starts lives on its task queue.
    const { deployed, status } = await kit.withWorker(world.activities(), async (taskQueue) => {
      const { workflowId: deployId } = await requestDeploy(kit.client, taskQueue, deployRequest(app, sha));
      const deployedRun = await settle(kit.client, deployId);
      await world.sim.injectFault('deploy', { kind: 'rate-limited', times: 1 });
      const workflowId = await requestRollback(kit.client, taskQueue, {
        app: app.name, environment: 'staging', target: { image: app.initialImage }, reason: 'test', trigger: { source: 'cli', actor: 'dana' },
      });
      return { deployed: deployedRun.status, status: (await settle(kit.client, workflowId)).status };
    });
    expect(deployed.state).toBe('succeeded');
    expect(`${status.state}: ${status.outcome}`).toMatch(/^succeeded: /);
    const rollbackCalls = rolloutsOf(world.sim, app).filter((c) => c.argv.includes(app.initialImage));
    expect(rollbackCalls.map((c) => c.exitCode)).toEqual([1, 0]);
    expect(rollbackCalls[0]!.fault).toBe('rate-limited');
    expect(await machineImages(world.sim, app)).toEqual([app.initialImage, app.initialImage]);
    expect(await world.servedBody(app)).toContain('v1');
  });

  it('(13.3) a worker shut down mid-rollout leaves flyctl running; the next worker resumes that release, so exactly one rollout', async () => {
    const app = await world.createApp();
    // Each machine takes seconds to pass its checks, so the rollout outlives the first worker.
    const sha = app.repo.commit({ behaviour: { version: 'v2', healthyAfterMs: 4000 } });
    const taskQueue = kit.uniqueId('tq');
    const first = await kit.createWorker(taskQueue, world.activities(), { shutdownGraceTime: '1s' });
    const firstRun = first.run();
    const { workflowId } = await requestDeploy(kit.client, taskQueue, deployRequest(app, sha));
    const rollingOut = await waitUntil('the new release rolling out', async () => {
      const [newest] = await releasesOf(world.sim, app);
      return newest && newest.ImageRef !== app.initialImage && newest.Status === 'running' ? newest : undefined;
    });
    first.shutdown();
    await firstRun;
    expect((await releasesOf(world.sim, app))[0]).toMatchObject({ Version: rollingOut.Version, Status: 'running' });

    const second = await kit.createWorker(taskQueue, world.activities());
    const { status } = await second.runUntil(settle(kit.client, workflowId));
    expect(status.state).toBe('succeeded');
    expect(status.facts.release).toBe(`v${rollingOut.Version}`);
    expect(rolloutsOf(world.sim, app).map((c) => c.exitCode)).toEqual([0]);
    expect(world.sim.deployCount(rollingOut.ImageRef)).toBe(1);
    expect((await releasesOf(world.sim, app))[0]).toMatchObject({ Version: rollingOut.Version, Status: 'complete' });
    expect(await machineImages(world.sim, app)).toEqual([rollingOut.ImageRef, rollingOut.ImageRef]);
  });

  it('(13.6) a transient build failure (429) is retried, not a verdict', async () => {
    const app = await world.createApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    await world.sim.injectFault('deploy', { kind: 'rate-limited', times: 1 });
    const { status } = await deployAndWait(app, sha);
    expect(status.state).toBe('succeeded');
    const builds = world.sim.callLog().filter((c) => c.command === 'deploy' && c.argv.includes('--build-only') && c.argv.includes(app.name));
    expect(builds.map((c) => c.exitCode)).toEqual([1, 0]);
  });
});

// The deploy scenarios again, with what a production worker has: a deploy token (FlyV1 …) and
// LOG_LEVEL=debug in its environment (flyctl then prints DEBUG lines on stdout). The default
// environment runs them in pipeline.test.ts.
describe('with a deploy token and LOG_LEVEL=debug in the worker\'s environment (14.1, 14.2)', () => {
  const env = { FLY_API_TOKEN: DEPLOY_TOKEN };
  const run = (app: TestApp, sha: string, image?: string) => withWorkerEnvironment({ LOG_LEVEL: 'debug' }, () => deployAndWait(app, sha, env, image));

  it('deploys a healthy commit, with the built image and release version read correctly', async () => {
    const app = await world.createApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    const { status } = await run(app, sha);
    expect(status.state).toBe('succeeded');
    const [newest] = await releasesOf(world.sim, app);
    expect(status.facts.image).toBe(newest!.ImageRef);
    expect(status.facts.release).toBe(`v${newest!.Version}`);
    expect(await world.servedBody(app)).toContain('v2');
  });

  it('rolls back a release whose health fails', async () => {
    const app = await world.createApp({ environment: { waitTimeout: '3s' } });
    const sha = app.repo.commit({ behaviour: { version: 'v2', health: 'fail' } });
    const { status } = await run(app, sha);
    expect(status.state).toBe('rolled-back');
    expect(status.outcome).toMatch(/timeout reached waiting for health checks to pass/);
    expect(await machineImages(world.sim, app)).toEqual([app.initialImage, app.initialImage]);
  });

  it('stops with nothing rolled out when the release_command fails', async () => {
    const app = await world.createApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2', releaseCommand: { exitCode: 1, output: ['migration failed: not authorized'] } }, flyToml: { releaseCommand: 'bin/migrate' } });
    const { status } = await run(app, sha);
    expect(status.state).toBe('failed');
    expect(status.outcome).toMatch(/Nothing was rolled out, so nothing was rolled back: release command failed/);
    expect(stage(status, 'rollback')).toBeUndefined();
  });

  it('stops with nothing rolled out when the image cannot be fetched', async () => {
    const app = await world.createApp();
    const { status } = await run(app, app.repo.commit({ behaviour: { version: 'v2' } }), `registry.fly.io/${app.name}:never-pushed`);
    expect(status.state).toBe('failed');
    expect(status.outcome).toMatch(/Nothing was rolled out, so nothing was rolled back: .*could not find image/);
    expect(stage(status, 'rollback')).toBeUndefined();
  });
});
