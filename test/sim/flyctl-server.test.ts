// The flyctl the tests run is a small client of the simulator's server (sim/lib/flyctl-server.js):
// from the caller's side it must behave like the node process per call it replaces.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, it, vi } from 'vitest';
import { createSim, flyctlClientPath, FLYCTL_PATH, isProcessRunning, type RunResult, type Sim } from '../../sim/testing.js';
import { useSim } from './useSim.js';

/** The parts of the simulator's state these tests look at. */
interface StateView {
  apps: Record<string, { secrets: Record<string, unknown> } | undefined>;
  proxies: Record<string, unknown>;
}
const stateOf = (sim: Sim) => sim.readState() as StateView;

/** Runs the client with its own environment (no createSim helper around it). */
function runClient(flyctlPath: string, args: string[], env: NodeJS.ProcessEnv): Promise<RunResult & { pid: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(flyctlPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => { stdout += chunk; });
    child.stderr.setEncoding('utf8').on('data', (chunk) => { stderr += chunk; });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ exitCode: code ?? -1, signal, stdout, stderr, pid: child.pid as number }));
  });
}

describe.concurrent('flyctl through the simulator server', () => {
  const fixture = useSim();

  it('runs calls in the server, each recorded with the client process id', async ({ expect }) => {
    const { sim } = fixture;
    expect(sim.serverPid).not.toBeNull();
    expect(sim.flyctlPath).not.toBe(FLYCTL_PATH);

    const result = await runClient(sim.flyctlPath, ['apps', 'create', 'server-pid-app'], { ...process.env, ...sim.env });

    expect(result.exitCode).toBe(0);
    expect(sim.callLog().find((record) => record.command === 'apps create' && record.argv.includes('server-pid-app'))?.pid).toBe(result.pid);
  });

  it('keeps stdout and stderr apart', async ({ expect }) => {
    const { sim } = fixture;

    const result = await sim.run(['status', '-a', 'no-such-app'], { env: { LOG_LEVEL: 'debug' } });

    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(/^DEBUG Loaded flyctl config from .*\n$/);
    expect(result.stderr).toBe('Error: failed to get app: Could not find App "no-such-app"\n');
  });

  it('interrupts the command on SIGINT: exit 127, nothing printed, recorded as interrupted', async ({ expect }) => {
    const { sim } = fixture;
    await sim.createApp('interrupt-app', { machines: 0 });
    await sim.injectFault('scale show', { kind: 'hang', times: 1 });
    const hanging = sim.start(['scale', 'show', '-a', 'interrupt-app']);
    await vi.waitFor(() => expect(sim.pendingFaults().filter((fault) => fault.command === 'scale show')).toEqual([]), { timeout: 10_000, interval: 20 });

    const result = await hanging.stop('SIGINT');

    expect([result.exitCode, result.stdout, result.stderr]).toEqual([127, '', '']);
    expect(sim.callLog().filter((record) => record.pid === hanging.pid).map((record) => [record.command, record.exitCode])).toEqual([['scale show', 127]]);
  });

  it('stops a SIGKILLed client\'s command dead: no call record, no state change afterwards', async ({ expect }) => {
    const { sim } = fixture;
    await sim.createApp('killed-app', { machines: 0 });
    // Both calls hang for the same time, the killed one first: when the survivor has finished, the
    // killed one would have set its secret before it.
    await sim.injectFault('secrets set', { kind: 'hang', times: 2, hangMs: 600 });
    const killed = sim.start(['secrets', 'set', 'KILLED_SECRET=1', '--stage', '-a', 'killed-app']);
    await vi.waitFor(() => expect(sim.pendingFaults().find((fault) => fault.command === 'secrets set')?.remaining).toBe(1), { timeout: 10_000, interval: 10 });
    const survivor = sim.start(['secrets', 'set', 'SURVIVOR_SECRET=1', '--stage', '-a', 'killed-app']);
    await vi.waitFor(() => expect(sim.pendingFaults().filter((fault) => fault.command === 'secrets set')).toEqual([]), { timeout: 10_000, interval: 10 });

    const killedResult = await killed.stop('SIGKILL');
    const survivorResult = await survivor.exited;

    expect([killedResult.signal, survivorResult.exitCode]).toEqual(['SIGKILL', 0]);
    expect(Object.keys(stateOf(sim).apps['killed-app']?.secrets ?? {})).toEqual(['SURVIVOR_SECRET']);
    expect(sim.callLog().filter((record) => record.command === 'secrets set').map((record) => record.pid)).toEqual([survivor.pid]);
  });

  it('ends `fly proxy --watch-stdin` when its stdin ends, and forgets the proxy', async ({ expect }) => {
    const { sim } = fixture;
    await sim.createApp('stdin-app', { machines: 0 });
    const echo = net.createServer((socket) => socket.pipe(socket));
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    try {
      await sim.setProxyTarget('stdin-app', '127.0.0.1', (echo.address() as net.AddressInfo).port);
      const proxy = sim.start(['proxy', '0:5432', '-a', 'stdin-app', '--watch-stdin']);
      await proxy.waitForOutput(/Proxying localhost:\d+/);
      const proxiesWhileRunning = Object.keys(stateOf(sim).proxies);

      proxy.closeStdin();
      const result = await proxy.exited;

      expect(proxiesWhileRunning).toContain(String(proxy.pid));
      expect([result.exitCode, result.stderr]).toEqual([0, '']);
      expect(Object.keys(stateOf(sim).proxies)).not.toContain(String(proxy.pid));
    } finally {
      echo.close();
    }
  });
});

describe('the flyctl server of a simulator', () => {
  it('exits by itself once the simulator\'s owner process dies', async ({ expect }) => {
    const owner = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const sim = await createSim({ ownerPid: owner.pid as number });
    try {
      const serverPid = sim.serverPid as number;
      expect(isProcessRunning(serverPid)).toBe(true);

      owner.kill('SIGKILL');

      await vi.waitFor(() => expect(isProcessRunning(serverPid)).toBe(false), { timeout: 5000, interval: 50 });
    } finally {
      owner.kill('SIGKILL');
      await sim.teardown();
    }
  });
});

describe('flyctl without its server', () => {
  it('runs the node simulator in the client\'s place when the server is gone', async ({ expect }) => {
    const sim = await createSim();
    try {
      process.kill(sim.serverPid as number, 'SIGKILL');
      await vi.waitFor(() => expect(() => process.kill(sim.serverPid as number, 0)).toThrow(), { timeout: 5000, interval: 20 });

      const result = await runClient(sim.flyctlPath, ['apps', 'create', 'fallback-app'], { ...process.env, ...sim.env });

      expect([result.exitCode, result.stderr]).toEqual([0, '']);
      expect(stateOf(sim).apps['fallback-app']).toBeDefined();
      // exec keeps the pid: the caller still waits on the process that ran the command.
      expect(sim.callLog().map((record) => [record.command, record.pid])).toEqual([['apps create', result.pid]]);
    } finally {
      await sim.teardown();
    }
  });

  it('runs the node simulator when no server was ever started for the directory', async ({ expect }) => {
    const flyctlPath = flyctlClientPath() as string;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fly-sim-no-server-'));
    try {
      const result = await runClient(flyctlPath, ['apps', 'list', '--json'], { ...process.env, FLY_SIM_DIR: dir, FLY_API_TOKEN: 'fo1_test' });

      expect([result.exitCode, result.stdout, result.stderr]).toEqual([0, '[]\n', '']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

