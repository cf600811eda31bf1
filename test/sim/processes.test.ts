import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, it, vi } from 'vitest';
import { createSim, isProcessRunning, killAllSimProcesses } from '../../sim/testing.js';
import { machinesOf, useSim } from './useSim.js';

/** Resolves once none of the pids runs, or rejects after timeoutMs. */
async function waitUntilGone(pids: number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(isProcessRunning)) {
    if (Date.now() > deadline) throw new Error(`still running after ${timeoutMs} ms: ${pids.filter(isProcessRunning).join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// Each test has its own app or simulator, so they run concurrently.
describe.concurrent('flyctl simulator processes', () => {
  const fixture = useSim();

  it('runs every machine as a real HTTP server behind the app router, round robin', async ({ expect }) => {
    const { sim } = fixture;
    const app = await sim.createApp('http-app', { machines: 2, image: { version: 'v7', routes: { '/api/ping': { json: { pong: true } } } } });
    const machineIds = (await machinesOf(sim, app.name)).map((machine) => machine.id);

    const health = await fetch(`${app.appUrl}/health`);
    const ping = await fetch(`${app.appUrl}/api/ping`);
    const servedBy = new Set<string | null>();
    for (let i = 0; i < 4; i += 1) servedBy.add((await fetch(`${app.appUrl}/`)).headers.get('x-sim-machine'));

    expect([health.status, await health.text()]).toEqual([200, 'OK']);
    expect(await ping.json()).toEqual({ pong: true });
    expect([...servedBy].sort()).toEqual(machineIds);
    expect(await (await fetch(`${app.appUrl}/`)).text()).toBe('http-app v7\n');
  });

  it('starts failing health after the configured number of good answers', async ({ expect }) => {
    const { sim } = fixture;
    const app = await sim.createApp('bake-app', { machines: 1, image: { failHealthAfterRequests: 4 } });

    const statuses: number[] = [];
    for (let i = 0; i < 6; i += 1) statuses.push((await fetch(`${app.appUrl}/health`)).status);
    const checks = await sim.runJson<Record<string, Array<{ status: string }>>>(['checks', 'list', '-a', app.name]);

    // The deploy's own health checks already used some of the good answers.
    expect(statuses.at(-1)).toBe(500);
    expect(statuses.indexOf(500)).toBeGreaterThan(0);
    expect(Object.values(checks)[0][0].status).toBe('critical');
  });

  it('forwards flyctl proxy connections to the target set for the app', async ({ expect }) => {
    const { sim } = fixture;
    await sim.createApp('db-app', { machines: 0 });
    const echo = net.createServer((socket) => socket.pipe(socket));
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    const echoPort = (echo.address() as net.AddressInfo).port;
    await sim.setProxyTarget('db-app', '127.0.0.1', echoPort);

    const proxy = sim.start(['proxy', '0:5432', '-a', 'db-app']);
    try {
      const [, localPort] = await proxy.waitForOutput(/Proxying localhost:(\d+) to remote \[db-app\.internal\]:5432\n/);
      const reply = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(Number(localPort), '127.0.0.1', () => socket.write('ping'));
        socket.once('data', (data) => { socket.destroy(); resolve(data.toString()); });
        socket.once('error', reject);
      });
      expect(reply).toBe('ping');
    } finally {
      const stopped = await proxy.stop();
      echo.close();
      expect(stopped.exitCode).toBe(127);
      expect(stopped.stderr).toBe('');
    }
  });

  it('leaves no process running after teardown', async ({ expect }) => {
    const sim = await createSim();
    await sim.createApp('teardown-app', { machines: 2 });
    const pids = sim.processIds();
    expect(pids).toHaveLength(3);
    expect(pids.every(isProcessRunning)).toBe(true);

    await sim.teardown();

    expect(pids.filter(isProcessRunning)).toEqual([]);
  });

  it('serves again when a state directory left by an earlier run is reopened', async ({ expect }) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fly-sim-reopen-'));
    try {
      const firstRun = await createSim({ dir });
      const app = await firstRun.createApp('reopen-app', { machines: 1, image: { version: 'kept' } });
      await killAllSimProcesses(dir);

      const secondRun = await createSim({ dir });

      expect(await (await fetch(`${secondRun.appUrl(app.name)}/`)).text()).toBe('reopen-app kept\n');
      expect(secondRun.appUrl(app.name)).toBe(app.appUrl);
      await secondRun.teardown();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ends a hung flyctl call once its simulator is torn down', async ({ expect }) => {
    const sim = await createSim();
    await sim.injectFault('status', { kind: 'hang', times: 1 });
    const hanging = sim.start(['status', '-a', 'any-app']);
    await vi.waitFor(() => expect(sim.pendingFaults()).toEqual([]), { timeout: 10_000, interval: 20 });

    await sim.teardown();

    expect((await hanging.exited).exitCode).toBe(127);
  });

  it('stops machines, routers and the flyctl server by themselves when their state directory disappears', async ({ expect }) => {
    const sim = await createSim();
    await sim.createApp('orphan-app', { machines: 1 });
    const pids = [...sim.processIds(), sim.serverPid ?? 0];
    expect(pids).toHaveLength(3);
    expect(pids).not.toContain(0);

    rmSync(sim.dir, { recursive: true, force: true });

    await waitUntilGone(pids, 5000);
  });
});
