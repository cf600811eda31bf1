// @ts-check
// fly.toml [deploy] release_command, run in a temporary machine on the new image before any app
// machine is touched. The image's manifest says how it ends (exit code, output, duration).
import { appendAppLog } from '../app-log.js';
import { FlyError } from '../errors.js';
import { newMachineId } from '../ids.js';
import { sleep } from '../time.js';
import { createStatusLines } from './status-lines.js';

const LOG_LINES_SHOWN = 100;

/**
 * @param {import('../context.js').CommandContext} ctx
 * @param {{ appName: string, command: string, region: string, timeoutMs: number, manifest: import('../manifest.js').Manifest, isDeployToken?: boolean }} run
 */
export async function runReleaseCommand(ctx, { appName, command, region, timeoutMs, manifest, isDeployToken = false }) {
  const machineId = newMachineId();
  const { exitCode, output, durationMs } = manifest.releaseCommand;
  const line = createStatusLines(ctx.out, 1).line(0);
  ctx.callRecord.releaseCommand = command;
  ctx.err(`Running ${appName} release_command: ${command}\n`);
  line.log('running', `Created release_command machine ${machineId}`);
  ctx.err('Starting machine\n');
  const log = (/** @type {string} */ message) => appendAppLog(ctx.dir, appName, { instance: machineId, region, level: 'info', message, provider: 'app' });
  log(`Preparing to run: \`${command}\` as root`);
  for (const message of output) log(message);
  if (durationMs > timeoutMs) {
    // The wait's timeout is reworded to a plain error (suggestChangeWaitTimeout), so flyctl exits 1,
    // not 126 (machines_releasecommand.go:362-366).
    await sleep(timeoutMs, ctx.signal);
    const waitError = `error waiting for release_command machine ${machineId} to finish running: timeout reached waiting for machine's state to change`;
    line.log('failure', `Failed: ${waitError}`);
    throw new FlyError(`release command failed - aborting deployment. ${waitError}`, {
      description: 'Your machine never reached the state "destroyed".',
      suggestion: 'You can try increasing the timeout with the --release-command-timeout flag',
    });
  }
  await sleep(durationMs, ctx.signal);
  log(exitCode === 0 ? 'Main child exited normally with code: 0' : `Main child exited with code: ${exitCode}`);
  if (exitCode === 0) {
    line.log('success', `release_command ${machineId} completed successfully`);
    return;
  }
  line.log('failure', 'release_command failed');
  ctx.err(`Error release_command failed running on machine ${machineId} with exit code ${exitCode}.\n`);
  ctx.err('Checking logs: fetching the last 100 lines below:\n');
  if (isDeployToken) {
    ctx.err(`Warn: not authorized to retrieve app logs (this can happen when using deploy tokens). Use \`fly logs -i ${machineId}\` or open the monitoring dashboard to see them: https://fly.io/apps/${appName}/monitoring?region=&instance=${machineId}\n`);
  }
  for (const message of output.slice(-LOG_LINES_SHOWN)) ctx.err(`${message}\n`);
  throw new FlyError(`release command failed - aborting deployment. machine ${machineId} exited with non-zero status of ${exitCode}`);
}
