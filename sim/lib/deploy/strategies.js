// @ts-check
// How a deploy replaces the app's machines (internal/command/deploy): rolling (also canary's
// second phase and any unknown --strategy value) updates one machine, then the rest max-unavailable
// at a time, stopping at the first failure; immediate replaces all at once without waiting;
// canary first proves a new machine; bluegreen starts a green copy of every machine and destroys
// the green ones again if they do not all become healthy.
import { EXIT_DEADLINE_EXCEEDED, FlyError, isInterrupted, SilentCancel } from '../errors.js';
import { createMachine, destroyMachine, replaceMachine, updateStoppedMachine, waitForMachineStart } from '../machine-runtime.js';
import { observedState } from '../machines.js';
import { isMachineHealthy, probeMachineChecks } from '../health.js';
import { pollUntil } from '../time.js';
import { waitForMachineToBeGood } from './machine-checks.js';
import { runPool } from './pool.js';
import { createStatusLines, formattedMachineId } from './status-lines.js';

const IMMEDIATE_MAX_CONCURRENT = 8;

/**
 * What a strategy needs: how to give a machine this release, and how to check it afterwards.
 * @typedef {{
 *   appName: string, strategy: string, maxUnavailable: number,
 *   checks: import('./machine-checks.js').CheckSettings,
 *   applyRelease: (machine: import('../state.js').MachineRecord) => void,
 *   newMachineSpec: (region: string, extraMetadata?: Record<string, string>) => { region: string, imageRef: string, config: import('../state.js').MachineConfigRecord }
 * }} Rollout
 */

/**
 * @param {import('../context.js').CommandContext} ctx
 * @param {Rollout} rollout
 * @param {string[]} machineIds
 */
export async function updateExistingMachines(ctx, rollout, machineIds) {
  if (machineIds.length === 0) return;
  ctx.out(`Updating existing machines in '${rollout.appName}' with ${rollout.strategy} strategy\n`);
  if (rollout.strategy === 'bluegreen') return updateBlueGreen(ctx, rollout, machineIds);
  if (rollout.strategy === 'immediate') return updateImmediately(ctx, rollout, machineIds);
  return updateRolling(ctx, rollout, machineIds);
}

/**
 * @param {import('../context.js').CommandContext} ctx
 * @param {Rollout} rollout
 * @param {string[]} machineIds
 * @param {{ isAlreadyUpdated?: boolean }} [options] machines this deploy just created only get checked
 */
export async function updateRolling(ctx, rollout, machineIds, { isAlreadyUpdated = false } = {}) {
  const ids = [...machineIds].sort();
  const lines = createStatusLines(ctx.out, ids.length);
  const updateOne = async (/** @type {string} */ machineId, /** @type {number} */ index) => {
    const line = lines.line(index);
    const shownId = formattedMachineId(machineId);
    line.log('running', `Updating ${shownId}`);
    try {
      const machine = ctx.readState().apps[rollout.appName]?.machines[machineId];
      if (!isAlreadyUpdated && machine && observedState(machine) === 'stopped' && machine.pid === null) {
        await updateStoppedMachine(ctx, rollout.appName, machineId, rollout.applyRelease);
        line.log('success', `Machine ${shownId} update succeeded (not started: it was stopped)`);
        return;
      }
      if (!isAlreadyUpdated) await replaceMachine(ctx, rollout.appName, machineId, rollout.applyRelease);
      // A machine this deploy just launched already passed its smoke checks.
      await waitForMachineToBeGood(ctx, { ...rollout.checks, skipSmokeChecks: rollout.checks.skipSmokeChecks || isAlreadyUpdated }, machineId);
    } catch (err) {
      line.log('failure', isInterrupted(err) ? `Machine ${shownId} update canceled while it was in progress` : `Machine ${shownId} update failed: ${/** @type {Error} */ (err).message}`);
      throw err;
    }
    line.log('success', `Machine ${shownId} update succeeded`);
  };
  // flyctl updates a spearhead machine first, then the rest in parallel chunks.
  await updateOne(ids[0], 0);
  const rest = ids.slice(1);
  try {
    await runPool(rest, poolSize(rest.length, rollout.maxUnavailable), (machineId, index) => updateOne(machineId, index + 1),
      (machineId, index) => lines.line(index + 1).log('failure', `Machine ${formattedMachineId(machineId)} update canceled`));
  } catch (err) {
    // The pool cancels its siblings on the first error and joins every error; with two or more
    // machines after the spearhead, context.Canceled wins: exit 127 and no Error line.
    if (rest.length >= 2 && !isInterrupted(err)) throw new SilentCancel(/** @type {Error} */ (err));
    throw err;
  }
}

/**
 * @param {import('../context.js').CommandContext} ctx
 * @param {Rollout} rollout
 * @param {string[]} machineIds
 */
async function updateImmediately(ctx, rollout, machineIds) {
  const lines = createStatusLines(ctx.out, machineIds.length);
  await runPool(machineIds, IMMEDIATE_MAX_CONCURRENT, async (machineId, index) => {
    const line = lines.line(index);
    const shownId = formattedMachineId(machineId);
    line.log('running', `Updating ${shownId}`);
    try {
      await replaceMachine(ctx, rollout.appName, machineId, rollout.applyRelease);
    } catch (err) {
      line.log('failure', `Machine ${shownId} update failed: ${/** @type {Error} */ (err).message}`);
      throw err;
    }
    line.log('success', `Machine ${shownId} update succeeded`);
  });
}

/**
 * A canary machine on the new release must become good before the rolling update starts. A
 * failed canary stays behind, as in flyctl (it is only destroyed once it passed).
 * @param {import('../context.js').CommandContext} ctx
 * @param {Rollout} rollout
 * @param {string} region
 */
export async function deployCanaryMachine(ctx, rollout, region) {
  const line = createStatusLines(ctx.out, 1).line(0);
  line.log('running', 'Creating canary machine for group app');
  const canary = await createMachine(ctx, rollout.appName, rollout.newMachineSpec(region, { fly_canary: 'true' }));
  line.note(`Machine ${formattedMachineId(canary.id)} was created`);
  await waitForMachineToBeGood(ctx, rollout.checks, canary.id);
  line.log('success', `Machine ${formattedMachineId(canary.id)} update finished: success`);
  await destroyMachine(ctx, rollout.appName, canary.id);
}

/**
 * The first deploy of an app creates its machines (two with --ha, the default).
 * @param {import('../context.js').CommandContext} ctx
 * @param {Rollout} rollout
 * @param {{ region: string, increasedAvailability: boolean }} options
 * @returns {Promise<string[]>} the new machines' ids
 */
export async function launchFirstMachines(ctx, rollout, { region, increasedAvailability }) {
  const line = createStatusLines(ctx.out, 1).line(0);
  line.log('running', 'Launching new machine');
  ctx.out('No machines in group app, launching a new machine\n');
  const ids = [await spawnMachine(ctx, rollout, region, line)];
  if (increasedAvailability) {
    ctx.out('Creating a second machine for high availability and zero downtime deployments.\n');
    ctx.out('To disable this, set "min_machines_running = 0" in your fly.toml.\n');
    ids.push(await spawnMachine(ctx, rollout, region, line));
  }
  ctx.err('Finished launching new machines\n');
  return ids;
}

/**
 * @param {import('../context.js').CommandContext} ctx
 * @param {Rollout} rollout
 * @param {string} region
 * @param {import('./status-lines.js').StatusLine} line
 */
async function spawnMachine(ctx, rollout, region, line) {
  const machine = await createMachine(ctx, rollout.appName, rollout.newMachineSpec(region));
  line.note(`Machine ${formattedMachineId(machine.id)} was created`);
  if (rollout.strategy === 'immediate') return machine.id;
  await waitForMachineToBeGood(ctx, rollout.checks, machine.id);
  if (!rollout.checks.skipHealthChecks) line.log('success', `Machine ${formattedMachineId(machine.id)} update finished: success`);
  return machine.id;
}

/**
 * @param {number} machineCount
 * @param {number} maxUnavailable a fraction, or a count when >= 1
 */
function poolSize(machineCount, maxUnavailable) {
  return maxUnavailable >= 1 ? Math.floor(maxUnavailable) : Math.max(1, Math.ceil(machineCount * maxUnavailable));
}

/**
 * Blue-green (strategy_bluegreen.go; its progress goes to stderr).
 * @param {import('../context.js').CommandContext} ctx
 * @param {Rollout} rollout
 * @param {string[]} blueIds
 */
async function updateBlueGreen(ctx, rollout, blueIds) {
  const state = ctx.readState();
  const blueMachines = blueIds.map((id) => state.apps[rollout.appName].machines[id]);
  ctx.err('\nVerifying if app can be safely deployed \n');
  rejectMixedImages(ctx, blueMachines);
  if (blueMachines.every((machine) => machine.config.checks.length === 0)) {
    ctx.err('\n\nYou need to define at least 1 check in order to use blue-green deployments. Refer to https://fly.io/docs/reference/configuration/#services-tcp_checks\n');
    throw new FlyError('app not in valid state for bluegreen deployments');
  }
  ctx.err('\nCreating green machines\n');
  /** @type {string[]} */
  const greenIds = [];
  try {
    for (const blue of blueMachines) {
      const green = await createMachine(ctx, rollout.appName, rollout.newMachineSpec(blue.region));
      greenIds.push(green.id);
      ctx.err(`  Created machine ${formattedMachineId(green.id)}\n`);
    }
    ctx.err('\nWaiting for all green machines to start\n');
    await waitForGreen(ctx, rollout, greenIds, 'start');
    ctx.err('\nWaiting for all green machines to be healthy\n');
    await waitForGreen(ctx, rollout, greenIds, 'health');
  } catch (err) {
    if (isInterrupted(err)) throw err;
    ctx.err('\nRolling back failed deployment\n');
    for (const greenId of greenIds) {
      await destroyMachine(ctx, rollout.appName, greenId);
      ctx.err(`  Deleted machine ${formattedMachineId(greenId)}\n`);
    }
    throw err;
  }
  ctx.err('\nMarking green machines as ready\n');
  for (const greenId of greenIds) ctx.err(`  Machine ${formattedMachineId(greenId)} now ready\n`);
  ctx.err('\nCheckpointing deployment, this may take a few seconds...\n');
  ctx.err('\nWaiting before cordoning all blue machines\n');
  for (const blueId of blueIds) ctx.err(`  Machine ${formattedMachineId(blueId)} cordoned\n`);
  ctx.err('\nWaiting before stopping all blue machines\n');
  ctx.err('\nStopping all blue machines\n');
  ctx.err('\nWaiting for all blue machines to stop\n');
  ctx.err('\nDestroying all blue machines\n');
  for (const blueId of blueIds) {
    await destroyMachine(ctx, rollout.appName, blueId);
    ctx.err(`  Machine ${formattedMachineId(blueId)} destroyed\n`);
  }
  ctx.err('\nDeployment Complete\n');
}

/**
 * @param {import('../context.js').CommandContext} ctx
 * @param {import('../state.js').MachineRecord[]} blueMachines
 */
function rejectMixedImages(ctx, blueMachines) {
  /** @type {Map<string, string[]>} */
  const machinesByImage = new Map();
  for (const machine of blueMachines) machinesByImage.set(machine.imageRef, [...(machinesByImage.get(machine.imageRef) ?? []), machine.id]);
  if (machinesByImage.size <= 1) return;
  ctx.err(`\n  Found ${machinesByImage.size} different images in your app (for bluegreen to work, all machines need to run a single image)\n`);
  for (const [image, ids] of machinesByImage) ctx.err(`    [x] ${image} - ${ids.length} machine(s) (${ids.join(',')})\n`);
  throw new FlyError('found multiple image versions');
}

/**
 * Bluegreen waits for all green machines together, bounded by --wait-timeout as a whole.
 * @param {import('../context.js').CommandContext} ctx
 * @param {Rollout} rollout
 * @param {string[]} greenIds
 * @param {'start' | 'health'} phase
 */
async function waitForGreen(ctx, rollout, greenIds, phase) {
  const { appName, waitTimeoutMs } = rollout.checks;
  const deadline = Date.now() + waitTimeoutMs;
  const outcome = await pollUntil(async () => {
    const machines = greenIds.map((id) => ctx.readState().apps[appName]?.machines[id]);
    if (phase === 'start') {
      const started = await Promise.all(greenIds.map((id) => waitForMachineStart(ctx, appName, id, 0)));
      return started.every((result) => result === 'started') ? true : undefined;
    }
    const healthy = await Promise.all(machines.map((machine) => machine && (machine.config.checks.length === 0 || isMachineHealthy(machine))));
    return healthy.every(Boolean) ? true : undefined;
  }, { timeoutMs: Math.max(0, deadline - Date.now()), intervalMs: 90, signal: ctx.signal });
  if ('timedOut' in outcome) {
    // The health wait's per-machine contexts expire first: context.DeadlineExceeded joined with the
    // reason, so flyctl exits 126 (strategy_bluegreen.go:575-578).
    if (phase === 'health') throw new FlyError('context deadline exceeded\ncould not get all green machines to be healthy', { exitCode: EXIT_DEADLINE_EXCEEDED });
    throw new FlyError('wait timeout\ncould not get all green machines into started state');
  }
  for (const id of greenIds) {
    const machine = ctx.readState().apps[appName].machines[id];
    if (phase === 'start') ctx.err(`  Machine ${formattedMachineId(id)} - started\n`);
    else {
      const statuses = await probeMachineChecks(machine);
      ctx.err(`  Machine ${formattedMachineId(id)} - ${statuses.filter((status) => status.status === 'passing').length}/${statuses.length} passing\n`);
    }
  }
}
