// Commands start in the command launcher's process, not in the (large) worker's: same results, same
// supervision, and a lost launcher ends its commands and is replaced by the next one.
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { commandLauncherPid, startCommandLauncher } from '../../lib/launcher/client.js';
import { runCommand } from '../../lib/process.js';

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
