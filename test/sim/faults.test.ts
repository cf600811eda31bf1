import { describe, expect, it, vi } from 'vitest';
import { releasesOf, useSim } from './useSim.js';

describe('flyctl simulator fault injection', () => {
  const fixture = useSim();

  it('fails the next two calls transiently and lets the third succeed', async () => {
    const { sim } = fixture;
    await sim.createApp('flaky-app', { machines: 0 });
    await sim.injectFault('status', { kind: 'rate-limited', times: 2 });

    const results = [];
    for (let i = 0; i < 3; i += 1) results.push(await sim.run(['status', '-a', 'flaky-app', '--json']));

    expect(results.map((result) => result.exitCode)).toEqual([1, 1, 0]);
    expect(results[0].stderr).toMatch(/^Error: .*429 Too Many Requests.*\n$/);
    expect(sim.callCount('status')).toBe(3);
    expect(sim.callLog().filter((record) => record.command === 'status').map((record) => [record.exitCode, record.fault ?? null])).toEqual([[1, 'rate-limited'], [1, 'rate-limited'], [0, null]]);
  });

  it('fails a deploy with a connection reset before anything changes', async () => {
    const { sim } = fixture;
    const app = await sim.createApp('reset-app', { machines: 1 });
    await sim.injectFault('deploy', { kind: 'connection-reset' });

    const failed = await sim.run(['deploy', '-a', app.name, '-i', app.imageRef, '--yes']);
    const retried = await sim.run(['deploy', '-a', app.name, '-i', app.imageRef, '--yes']);

    expect(failed.exitCode).toBe(1);
    expect(failed.stderr).toContain('connection reset by peer');
    expect(retried.exitCode).toBe(0);
    expect((await releasesOf(sim, app.name)).map((release) => release.Version)).toEqual([2, 1]);
    expect(sim.deployCount(app.imageRef)).toBe(2);
  });

  it('fails every call of a command permanently with the given text', async () => {
    const { sim } = fixture;
    await sim.injectFault('releases', { kind: 'fail', message: 'Could not find App "gone"' });
    try {
      const first = await sim.run(['releases', '-a', 'flaky-app', '--json']);
      const second = await sim.run(['apps', 'releases', '-a', 'flaky-app', '--json']);
      expect([first.stderr, second.stderr]).toEqual(['Error: Could not find App "gone"\n', 'Error: Could not find App "gone"\n']);
    } finally {
      await sim.clearFaults();
    }
  });

  it('hangs a command until it is killed, which exits 127 and prints nothing', async () => {
    const { sim } = fixture;
    await sim.injectFault('machine list', { kind: 'hang', times: 1 });

    const hanging = sim.start(['machines', 'list', '-a', 'flaky-app', '--json']);
    await vi.waitFor(() => expect(sim.pendingFaults()).toEqual([]), { timeout: 10_000, interval: 20 });
    const hung = await hanging.stop('SIGTERM');
    const next = await sim.run(['machines', 'list', '-a', 'flaky-app', '--json']);

    expect([hung.exitCode, hung.stdout, hung.stderr]).toEqual([127, '', '']);
    expect(next.exitCode).toBe(0);
  });

  it('slows a command down with a timed hang', async () => {
    const { sim } = fixture;
    await sim.injectFault('version', { kind: 'hang', hangMs: 300, times: 1 });

    const startedAt = Date.now();
    const result = await sim.run(['version']);

    expect(result.exitCode).toBe(0);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(300);
  });
});
