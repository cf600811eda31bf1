// What the incident runbook needs from the simulator: `machine restart` (flyctl's output, the
// process really restarts and its checks run again), images that degrade after a while and may or
// may not recover on restart, and `scale count` per region down to zero and back.
import { describe, expect, it } from 'vitest';
import { machinesOf, useSim } from './useSim.js';

const fixture = useSim();

async function healthOf(appUrl: string, times: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < times; i += 1) statuses.push((await fetch(`${appUrl}/health`)).status);
  return statuses;
}

async function waitForDegraded(appUrl: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await healthOf(appUrl, 2)).every((status) => status === 500)) {
    if (Date.now() > deadline) throw new Error('the app never degraded');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('flyctl simulator: machine restart and scale count', () => {
  it('restarts a machine as flyctl does: a new process whose checks pass again', async () => {
    const app = await fixture.sim.createApp('restart-heals', { machines: 1, image: { failHealthAfterMs: 600 } });
    await waitForDegraded(app.appUrl);
    const [machine] = await machinesOf(fixture.sim, app.name);
    const { stdout, stderr } = await fixture.sim.runOrThrow(['machine', 'restart', machine!.id, '-a', app.name]);
    expect(stdout).toBe(`Restarting machine ${machine!.id}\nMachine ${machine!.id} restarted successfully!\n`);
    expect(stderr).toMatch(new RegExp(`Waiting for ${machine!.id} to become healthy \\(started, 1/1\\)`));
    expect(await healthOf(app.appUrl, 1)).toEqual([200]);
    const [after] = await machinesOf(fixture.sim, app.name);
    expect(after).toMatchObject({ id: machine!.id, state: 'started', instance_id: machine!.instance_id });
    expect((after!.events as Array<{ type: string }>).map((e) => e.type)).toContain('restart');
  });

  it('fails a restart whose checks never pass again when the image does not heal on restart', async () => {
    await fixture.sim.configure({ maxWaitTimeoutMs: 1500 });
    try {
      const app = await fixture.sim.createApp('restart-no-heal', { machines: 1, image: { failHealthAfterMs: 600, restartHeals: false } });
      await waitForDegraded(app.appUrl);
      const [machine] = await machinesOf(fixture.sim, app.name);
      const result = await fixture.sim.run(['machine', 'restart', machine!.id, '-a', app.name]);
      expect(result.exitCode).toBe(126);
      expect(result.stderr).toContain(`Error: failed to restart machine ${machine!.id}: failed to wait for health checks to pass: context deadline exceeded`);
      expect(await healthOf(app.appUrl, 1)).toEqual([500]);
    } finally {
      await fixture.sim.configure({ maxWaitTimeoutMs: null });
    }
  });

  it('heals a machine for good when its image says a restart does', async () => {
    const app = await fixture.sim.createApp('restart-heals-for-good', { machines: 1, image: { failHealthAfterMs: 300, restartHeals: 'permanently' } });
    await waitForDegraded(app.appUrl);
    const [machine] = await machinesOf(fixture.sim, app.name);
    await fixture.sim.runOrThrow(['machine', 'restart', machine!.id, '-a', app.name]);
    // Past the time it degraded after at first, measured on the new process's own clock.
    const startedAt = Date.parse(((await (await fetch(`${app.appUrl}/__sim/info`)).json()) as { startedAt: string }).startedAt);
    while (Date.now() - startedAt < 900) expect(await healthOf(app.appUrl, 1)).toEqual([200]);
  });

  it('refuses a restart without a machine id, or of a machine the app does not have', async () => {
    const app = await fixture.sim.createApp('restart-refusals', { machines: 1 });
    const none = await fixture.sim.run(['machine', 'restart', '-a', app.name]);
    expect(none).toMatchObject({ exitCode: 1, stderr: expect.stringContaining('Error: a machine ID must be specified when not running interactively') });
    const unknown = await fixture.sim.run(['machine', 'restart', '0123456789abcd', '-a', app.name]);
    expect(unknown.stderr).toContain(`Error: machine 0123456789abcd was not found in app '${app.name}'`);
  });

  it('scales per region to zero and back to the same counts', async () => {
    const app = await fixture.sim.createApp('scale-regions', { machines: 2 });
    await fixture.sim.runOrThrow(['scale', 'count', '1', '--region', 'ams', '--yes', '-a', app.name]);
    const regions = async () => (await fixture.sim.runJson<Array<{ Regions: Record<string, number> }>>(['scale', 'show', '-a', app.name]))[0]?.Regions ?? {};
    expect(await regions()).toEqual({ ams: 1, iad: 2 });
    const stopped = await fixture.sim.runOrThrow(['scale', 'count', '0', '--yes', '-a', app.name]);
    expect(stopped.stdout).toContain('Executing scale plan');
    expect(await machinesOf(fixture.sim, app.name)).toEqual([]);
    await fixture.sim.runOrThrow(['scale', 'count', '2', '--region', 'iad', '--yes', '-a', app.name]);
    await fixture.sim.runOrThrow(['scale', 'count', '1', '--region', 'ams', '--yes', '-a', app.name]);
    expect(await regions()).toEqual({ ams: 1, iad: 2 });
    expect(await healthOf(app.appUrl, 3)).toEqual([200, 200, 200]);
  });
});
