// Commands start in the command launcher's process, not in the (large) worker's: same results, same
// supervision, and a lost launcher ends its commands and is replaced by the next one.
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { commandLauncherPid, startCommandLauncher } from '../../lib/launcher/client.js';
import { runCommand, startDetachedCommand } from '../../lib/process.js';
import { isProcessRunning } from '../../sim/testing.js';
import { sessionOf } from '../helpers/processes.js';

const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };

async function runningLauncherPid(): Promise<number> {
  startCommandLauncher();
  await runCommand('true', [], { env, timeoutMs: 10_000 });
  const pid = commandLauncherPid();
  if (pid === undefined) throw new Error('no command launcher is running');
  return pid;
}

describe('the command launcher', () => {
  it('starts commands as its own children, with stdout, stderr, stdin and the exit code kept apart', async () => {
    const launcherPid = await runningLauncherPid();
    const result = await runCommand('sh', ['-c', 'echo "parent $PPID"; cat; echo oops >&2; exit 3'], { env, stdin: 'from stdin\n', timeoutMs: 10_000 });
    expect(result).toMatchObject({ exitCode: 3, stdout: `parent ${launcherPid}\nfrom stdin\n`, stderr: 'oops\n', isTimedOut: false });
    expect(launcherPid).not.toBe(process.pid);
  });

  it('says which command could not be started', async () => {
    const result = await runCommand('/nonexistent/flyctl', ['status'], { env, timeoutMs: 10_000 });
    expect(result.exitCode).toBeUndefined();
    expect(result.stderr).toContain('/nonexistent/flyctl could not be started');
  });

  it('still times out and kills the command\'s process group', async () => {
    const result = await runCommand('sh', ['-c', 'sleep 30 & wait'], { env, timeoutMs: 300, killGraceMs: 200 });
    expect(result.isTimedOut).toBe(true);
    expect(result.signal).toBe('SIGTERM');
  });

  it('ends the commands of a launcher that died, and the next command gets a new launcher', async () => {
    const launcherPid = await runningLauncherPid();
    const running = runCommand('sh', ['-c', 'echo started; sleep 30'], { env, timeoutMs: 60_000, onLine: () => process.kill(launcherPid, 'SIGKILL') });
    const ended = await running;
    expect(ended.exitCode).toBeUndefined();
    expect(ended.stderr).toContain('the command launcher process exited while the command ran');
    const next = await runCommand('sh', ['-c', 'echo $PPID'], { env, timeoutMs: 10_000 });
    const newLauncher = commandLauncherPid();
    expect(newLauncher).toBeDefined();
    expect(newLauncher).not.toBe(launcherPid);
    expect(next.stdout.trim()).toBe(String(newLauncher));
  });
});

describe('a detached command (a rollout that outlives its worker)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flightdeck-detached-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const files = (name: string) => ({ stdoutFile: path.join(dir, `${name}.out`), stderrFile: path.join(dir, `${name}.err`) });

  it('starts from the launcher in a session of its own, appends its output to files, and reports its exit', async () => {
    const launcherPid = await runningLauncherPid();
    const output = files('exit');
    fs.writeFileSync(output.stdoutFile, 'earlier attempt\n');
    const command = await startDetachedCommand('sh', ['-c', 'echo "parent $PPID"; echo oops >&2; exit 4'], { env, ...output });
    expect(await command.exit).toEqual({ exitCode: 4, signal: undefined });
    expect(fs.readFileSync(output.stdoutFile, 'utf8')).toBe(`earlier attempt\nparent ${launcherPid}\n`);
    expect(fs.readFileSync(output.stderrFile, 'utf8')).toBe('oops\n');
  });

  it('says why it could not start', async () => {
    await expect(startDetachedCommand('/nonexistent/flyctl', ['deploy'], { env, ...files('missing') })).rejects.toThrow('/nonexistent/flyctl could not be started');
  });

  it('runs on when the launcher is SIGKILLed: its exit is lost (isLost), its pid still tells, and the next command gets a new launcher', async () => {
    const launcherPid = await runningLauncherPid();
    const gate = path.join(dir, 'gate');
    const output = files('outlives');
    const command = await startDetachedCommand('sh', ['-c', 'while [ ! -e "$1" ]; do sleep 0.05; done; echo finished', 'sh', gate], { env, ...output });
    expect(sessionOf(command.pid)).toBe(command.pid);
    process.kill(launcherPid, 'SIGKILL');
    expect(await command.exit).toEqual({ exitCode: undefined, signal: undefined, isLost: true });
    expect(isProcessRunning(command.pid)).toBe(true);
    fs.writeFileSync(gate, '');
    await expect.poll(() => isProcessRunning(command.pid), { timeout: 10_000 }).toBe(false);
    expect(fs.readFileSync(output.stdoutFile, 'utf8')).toBe('finished\n');
    expect(await runningLauncherPid()).not.toBe(launcherPid);
  });
});

// The launcher never keeps a finished process alive: it exits with its parent.
it('exits when its parent goes away', async () => {
  const { spawn } = await import('node:child_process');
  const script = `import { startCommandLauncher, commandLauncherPid } from ${JSON.stringify(new URL('../../lib/launcher/client.ts', import.meta.url).pathname)};
import { runCommand } from ${JSON.stringify(new URL('../../lib/process.ts', import.meta.url).pathname)};
startCommandLauncher(); await runCommand('true', [], { env: {}, timeoutMs: 5000 }); console.log(commandLauncherPid());`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  await once(child, 'exit');
  const launcherPid = Number(output.trim());
  expect(launcherPid).toBeGreaterThan(0);
  await expect.poll(() => { try { process.kill(launcherPid, 0); return 'alive'; } catch { return 'gone'; } }, { timeout: 10_000 }).toBe('gone');
});
