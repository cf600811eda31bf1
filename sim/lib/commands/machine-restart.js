// @ts-check
// `flyctl machine restart <id>... [-a APP] [--skip-health-checks]` (internal/command/machine/restart.go,
// internal/machine/restart.go): takes the lease, restarts each machine in turn, waits up to 5 minutes
// for it to start, then for its health checks (internal/watch: every second, up to 300 s).
import { lookupApp, machinesApiNotFound } from '../app-lookup.js';
import { EXIT_DEADLINE_EXCEEDED, FlyError } from '../errors.js';
import { probeMachineChecks } from '../health.js';
import { withAppLease } from '../leases.js';
import { restartMachine, waitForMachineStart } from '../machine-runtime.js';
import { pollUntil } from '../time.js';

const START_WAIT_MS = 5 * 60_000;
const CHECKS_WAIT_MS = 300_000;
const CHECKS_POLL_MS = 1000;

/** @param {import('../context.js').CommandContext} ctx */
export async function run(ctx) {
  const { appName, app, state } = lookupApp(ctx, machinesApiNotFound('failed to list VMs'));
  if (ctx.args.length === 0) throw new FlyError('a machine ID must be specified when not running interactively');
  for (const machineId of ctx.args) {
    if (!app.machines[machineId]) throw new FlyError(`machine ${machineId} was not found in app '${appName}'`);
  }
  // The simulator's cap on --wait-timeout (configure({ maxWaitTimeoutMs })) also caps this wait, for quick failing tests.
  const checksWaitMs = Math.min(CHECKS_WAIT_MS, state.settings.maxWaitTimeoutMs ?? Infinity);
  await withAppLease(ctx, appName, async () => {
    for (const machineId of ctx.args) {
      ctx.out(`Restarting machine ${machineId}\n`);
      await restartMachine(ctx, appName, machineId);
      const started = await waitForMachineStart(ctx, appName, machineId, START_WAIT_MS);
      if (started !== 'started') {
        throw new FlyError(`failed to restart machine ${machineId}: timeout reached waiting for machine's state to change`, { exitCode: EXIT_DEADLINE_EXCEEDED });
      }
      if (!ctx.flags['skip-health-checks']) await waitForChecks(ctx, appName, machineId, checksWaitMs);
      ctx.out(`Machine ${machineId} restarted successfully!\n`);
    }
  });
}

/**
 * @param {import('../context.js').CommandContext} ctx
 * @param {string} appName
 * @param {string} machineId
 * @param {number} timeoutMs
 */
async function waitForChecks(ctx, appName, machineId, timeoutMs) {
  const machineNow = () => ctx.readState().apps[appName]?.machines[machineId];
  const initial = machineNow();
  if (!initial || initial.config.checks.length === 0) return ctx.out('No health checks found\n');
  const outcome = await pollUntil(async () => {
    const machine = machineNow();
    if (!machine) return undefined;
    const statuses = await probeMachineChecks(machine);
    const passing = statuses.filter((status) => status.status === 'passing').length;
    ctx.err(`  Waiting for ${machineId} to become healthy (started, ${passing}/${statuses.length})\n`);
    return statuses.length > 0 && passing === statuses.length ? true : undefined;
  }, { timeoutMs, intervalMs: CHECKS_POLL_MS, signal: ctx.signal });
  if ('timedOut' in outcome) {
    throw new FlyError(`failed to restart machine ${machineId}: failed to wait for health checks to pass: context deadline exceeded`, { exitCode: EXIT_DEADLINE_EXCEEDED });
  }
}
