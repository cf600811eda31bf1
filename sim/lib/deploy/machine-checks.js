// @ts-check
// Waiting for a machine to be good after it was created or updated, as flyctl does: it reaches
// "started" within --wait-timeout, it does not crash during the smoke-check window, and all its
// health checks pass within --wait-timeout. Errors carry flyctl's texts.
import { EXIT_DEADLINE_EXCEEDED, FlyError } from '../errors.js';
import { newMachineId } from '../ids.js';
import { formatGoDuration } from '../duration.js';
import { isMachineHealthy } from '../health.js';
import { waitForMachineStart } from '../machine-runtime.js';
import { isProcessAlive } from '../processes.js';
import { readAppLog } from '../app-log.js';
import { pollUntil, sleep } from '../time.js';

/**
 * @typedef {{
 *   appName: string, waitTimeoutMs: number, skipHealthChecks: boolean, skipSmokeChecks: boolean,
 *   machineCheck?: { manifest: import('../manifest.js').Manifest, timeoutMs: number } | null
 * }} CheckSettings
 */

/**
 * @param {import('../context.js').CommandContext} ctx
 * @param {CheckSettings} settings
 * @param {string} machineId
 */
export async function waitForMachineToBeGood(ctx, settings, machineId) {
  // --detach skips all three waits, as flyctl's waitForMachine does.
  if (!settings.skipHealthChecks) await waitForStarted(ctx, settings, machineId);
  if (!settings.skipHealthChecks && settings.machineCheck) await runTestMachine(ctx, settings.machineCheck);
  if (!settings.skipSmokeChecks) await runSmokeChecks(ctx, settings, machineId);
  if (!settings.skipHealthChecks) await waitForHealthChecks(ctx, settings, machineId);
}

/**
 * @param {import('../context.js').CommandContext} ctx
 * @param {CheckSettings} settings
 * @param {string} machineId
 */
export async function waitForStarted(ctx, settings, machineId) {
  const startedAt = Date.now();
  const outcome = await waitForMachineStart(ctx, settings.appName, machineId, settings.waitTimeoutMs);
  if (outcome === 'started') return;
  // A machine that exits before it ever listens is what flyctl's smoke check calls crashing;
  // without smoke checks flyctl just never sees it reach "started".
  if (outcome === 'stopped' && !settings.skipSmokeChecks) throw smokeCheckError(ctx, settings.appName, machineId);
  await sleep(Math.max(0, settings.waitTimeoutMs - (Date.now() - startedAt)), ctx.signal);
  throw startTimeoutError(machineId, settings.waitTimeoutMs);
}

/**
 * fly.toml's machine_checks: a test machine runs on the new image after the machine was updated
 * and started. Its exit event is awaited within the release_command timeout, and that wait keeps
 * context.DeadlineExceeded in its error chain: flyctl exits 126 with machines already updated
 * (machinebasedtest.go:124).
 * @param {import('../context.js').CommandContext} ctx
 * @param {{ manifest: import('../manifest.js').Manifest, timeoutMs: number }} check
 */
async function runTestMachine(ctx, { manifest, timeoutMs }) {
  const testMachineId = newMachineId();
  const { exitCode, durationMs } = manifest.machineCheck;
  if (durationMs > timeoutMs) {
    await sleep(timeoutMs, ctx.signal);
    throw new FlyError(`error finding the test command machine ${testMachineId} exit event: context deadline exceeded`, { exitCode: EXIT_DEADLINE_EXCEEDED });
  }
  await sleep(durationMs, ctx.signal);
  if (exitCode !== 0) throw new FlyError(`Error test command machine ${testMachineId} exited with non-zero status of ${exitCode}`);
}

/**
 * Watches the machine for the smoke-check window: a process that dies meanwhile is crashing.
 * @param {import('../context.js').CommandContext} ctx
 * @param {CheckSettings} settings
 * @param {string} machineId
 */
async function runSmokeChecks(ctx, settings, machineId) {
  const { smokeCheckMs } = ctx.readState().settings;
  const outcome = await pollUntil(() => {
    const machine = ctx.readState().apps[settings.appName]?.machines[machineId];
    if (!machine) return 'crashed';
    return !machine.pid || isProcessAlive(machine.pid) ? undefined : 'crashed';
  }, { timeoutMs: smokeCheckMs, intervalMs: 25, signal: ctx.signal });
  if ('value' in outcome) throw smokeCheckError(ctx, settings.appName, machineId);
}

/**
 * @param {import('../context.js').CommandContext} ctx
 * @param {CheckSettings} settings
 * @param {string} machineId
 */
export async function waitForHealthChecks(ctx, settings, machineId) {
  const machineNow = () => ctx.readState().apps[settings.appName]?.machines[machineId];
  // flyctl only waits when the machine's config defines checks.
  if ((machineNow()?.config.checks.length ?? 0) === 0) return;
  const { healthPollMs } = ctx.readState().settings;
  const outcome = await pollUntil(async () => {
    const machine = machineNow();
    return machine && (await isMachineHealthy(machine)) ? true : undefined;
  }, { timeoutMs: settings.waitTimeoutMs, intervalMs: healthPollMs, signal: ctx.signal });
  if ('timedOut' in outcome) {
    throw new FlyError(`timeout reached waiting for health checks to pass for machine ${machineId}: failed to get VM ${machineId}: Get "https://api.machines.dev/v1/apps/${settings.appName}/machines/${machineId}": context deadline exceeded`);
  }
}

/**
 * @param {string} machineId
 * @param {number} waitTimeoutMs
 */
function startTimeoutError(machineId, waitTimeoutMs) {
  return new FlyError("timeout reached waiting for machine's state to change", {
    description: `The machine ${machineId} took more than ${formatGoDuration(waitTimeoutMs)} to reach "started"`,
    suggestion: 'You can try deploying to a different region,\nor you can try increasing the timeout with the --wait-timeout flag',
  });
}

/**
 * @param {import('../context.js').CommandContext} ctx
 * @param {string} appName
 * @param {string} machineId
 */
function smokeCheckError(ctx, appName, machineId) {
  const logs = readAppLog(ctx.dir, appName).filter((line) => line.instance === machineId).slice(-20).map((line) => `${line.message}\n`).join('');
  return new FlyError(`smoke checks for ${machineId} failed: the app appears to be crashing`, {
    suggestion: `Smoke checks for ${machineId} failed: the app appears to be crashing\nCheck its logs: here's the last lines below, or run 'fly logs -i ${machineId}':\n${logs}`,
  });
}
