// flyDeployImage starts `fly deploy` from the command launcher (lib/launcher/), detached: a launcher
// that dies mid-rollout (killed; a Ctrl-C reaches its process group) neither ends the rollout nor
// loses its end: the activity watches flyctl by its pid and reports the release it made.
import fs from 'node:fs';
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { commandLauncherPid } from '../../lib/launcher/client.js';
import { isProcessRunning } from '../../sim/testing.js';
import { useDeployWorld } from '../helpers/deployWorld.js';
import { waitUntil } from './support.js';

const world = useDeployWorld();

/** Field 4 of /proc/<pid>/stat. */
function parentOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** An activity run outside a worker, in this environment (heartbeats, cancellation). */
function run<A extends unknown[], R>(environment: MockActivityEnvironment, fn: (...args: A) => Promise<R>, ...args: A): Promise<R> {
  return environment.run(fn, ...args);
}

describe('a rollout started by the command launcher', () => {
  it('runs on when the launcher is SIGKILLed, and the deploy activity still learns its end and reports the release', async () => {
    const app = await world.createApp({ machines: 1 });
    // The new machine takes seconds to pass its checks: the rollout outlives the launcher by a while.
    app.repo.commit({ behaviour: { version: 'v2', healthyAfterMs: 3000 } });
    const activities = world.activities();
    const image = await run(new MockActivityEnvironment(), activities.flyBuildImage, { flyApp: app.name, workspace: app.repo.dir, imageLabel: 'launcher-lost', timeoutMs: 60_000 });
    const { releaseVersion } = await run(new MockActivityEnvironment(), activities.flyAppStatus, app.name);

    const environment = new MockActivityEnvironment();
    const heartbeats: Array<{ pid?: number }> = [];
    environment.on('heartbeat', (details: { pid?: number }) => heartbeats.push(details));
    const deploying = run(environment, activities.flyDeployImage, {
      flyApp: app.name, image, strategy: 'rolling', waitTimeout: '30s', baselineReleaseVersion: releaseVersion ?? null, workDir: 'deploys/launcher-lost', timeoutMs: 120_000,
    });
    const flyctlPid = (await waitUntil('flyctl deploy started', () => heartbeats.find((h) => h.pid)?.pid, 30_000))!;
    const launcherPid = commandLauncherPid();
    expect(parentOf(flyctlPid)).toBe(launcherPid);
    process.kill(launcherPid!, 'SIGKILL');
    await waitUntil('the launcher gone', () => commandLauncherPid() === undefined, 10_000);
    expect(isProcessRunning(flyctlPid)).toBe(true);

    const outcome = await deploying;
    const [newest] = world.sim.releases(app.name);
    expect(newest).toMatchObject({ ImageRef: image, Status: 'complete' });
    expect(outcome).toMatchObject({ releaseVersion: newest!.Version, imageRef: image });
    expect(isProcessRunning(flyctlPid)).toBe(false);
    expect(world.sim.deployCount(image)).toBe(1);
    expect(await world.servedBody(app)).toContain('v2');
  }, 120_000);
});
