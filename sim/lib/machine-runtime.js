// @ts-check
// Creating, replacing and destroying machines: the state record changes first (a new instance id,
// so the previous process's watchdog lets go), then the process is stopped or started. A started
// machine registers its own port; callers wait for that like flyctl waits for "started".
import { fileURLToPath } from 'node:url';
import { newUlid } from './ids.js';
import { normalizeManifest } from './manifest.js';
import { newMachineRecord, recordEvent } from './machines.js';
import { dirMarker, machineMarker } from './process-markers.js';
import { isProcessAlive, terminateProcess } from './processes.js';
import { spawnDetachedNode } from './spawn.js';
import { pollUntil } from './time.js';

const MACHINE_SERVER_SCRIPT = fileURLToPath(new URL('./machine-server.js', import.meta.url));
const START_POLL_MS = 20;

/** @typedef {import('./context.js').CommandContext} CommandContext */

/**
 * Creates a machine running the image and starts its process.
 * @param {CommandContext} ctx
 * @param {string} appName
 * @param {{ region: string, imageRef: string, config: import('./state.js').MachineConfigRecord }} spec
 * @returns {Promise<import('./state.js').MachineRecord>}
 */
export async function createMachine(ctx, appName, spec) {
  const machine = newMachineRecord(spec);
  await ctx.updateState((state) => {
    state.apps[appName].machines[machine.id] = machine;
  });
  await launchMachineProcess(ctx, appName, machine.id);
  return machine;
}

/**
 * Gives the machine a new image and/or config (a new instance) and restarts its process.
 * @param {CommandContext} ctx
 * @param {string} appName
 * @param {string} machineId
 * @param {(machine: import('./state.js').MachineRecord) => void} change
 * @param {{ type: string, status: string }} [event] how the machine's event log names it
 */
export async function replaceMachine(ctx, appName, machineId, change, event = { type: 'update', status: 'replacing' }) {
  const previousPid = await ctx.updateState((state) => {
    const machine = state.apps[appName].machines[machineId];
    const pid = machine.pid;
    change(machine);
    Object.assign(machine, { instanceId: newUlid(), state: event.status, pid: null, port: null, updatedAt: new Date().toISOString() });
    recordEvent(machine, { ...event, source: 'user', timestamp: Date.now() });
    return pid;
  });
  await terminateProcess(previousPid, machineMarker(machineId));
  await launchMachineProcess(ctx, appName, machineId);
}

/**
 * Restarts the machine's process on the same image, config and instance (`fly machine restart`,
 * the Machines API's restart): the new process starts afresh, so its checks run again. A stopped
 * machine is started.
 * @param {CommandContext} ctx
 * @param {string} appName
 * @param {string} machineId
 */
export async function restartMachine(ctx, appName, machineId) {
  const previousPid = await ctx.updateState((state) => {
    const machine = state.apps[appName].machines[machineId];
    const pid = machine.pid;
    Object.assign(machine, { state: 'stopping', pid: null, port: null });
    recordEvent(machine, { type: 'restart', status: 'stopping', source: 'user', timestamp: Date.now() });
    return pid;
  });
  await terminateProcess(previousPid, machineMarker(machineId));
  await launchMachineProcess(ctx, appName, machineId);
}

/**
 * A stopped machine gets the new config but stays stopped (flyctl's SkipLaunch: "updated but not
 * started"), so nothing waits for it.
 * @param {CommandContext} ctx
 * @param {string} appName
 * @param {string} machineId
 * @param {(machine: import('./state.js').MachineRecord) => void} change
 */
export async function updateStoppedMachine(ctx, appName, machineId, change) {
  await ctx.updateState((state) => {
    const machine = state.apps[appName].machines[machineId];
    change(machine);
    Object.assign(machine, { instanceId: newUlid(), state: 'stopped', pid: null, port: null, updatedAt: new Date().toISOString() });
    recordEvent(machine, { type: 'update', status: 'stopped', source: 'user', timestamp: Date.now() });
  });
}

/**
 * Stops a machine's process and records it stopped (what `fly machine stop` does).
 * @param {CommandContext} ctx
 * @param {string} appName
 * @param {string} machineId
 */
export async function stopMachine(ctx, appName, machineId) {
  const pid = await ctx.updateState((state) => {
    const machine = state.apps[appName]?.machines[machineId];
    if (!machine) throw new Error(`the simulator has no machine ${machineId} in ${appName}`);
    const previous = machine.pid;
    Object.assign(machine, { state: 'stopped', pid: null, port: null, updatedAt: new Date().toISOString() });
    recordEvent(machine, { type: 'stop', status: 'stopped', source: 'user', timestamp: Date.now() });
    return previous;
  });
  await terminateProcess(pid, machineMarker(machineId));
}

/**
 * Removes the machine and stops its process.
 * @param {CommandContext} ctx
 * @param {string} appName
 * @param {string} machineId
 */
export async function destroyMachine(ctx, appName, machineId) {
  const pid = await ctx.updateState((state) => {
    const machine = state.apps[appName]?.machines[machineId];
    if (!machine) return null;
    delete state.apps[appName].machines[machineId];
    return machine.pid;
  });
  await terminateProcess(pid, machineMarker(machineId));
}

/**
 * Waits until the machine's current instance is started, has stopped (crashed), or the timeout.
 * @param {CommandContext} ctx
 * @param {string} appName
 * @param {string} machineId
 * @param {number} timeoutMs
 * @returns {Promise<'started' | 'stopped' | 'timeout'>}
 */
export async function waitForMachineStart(ctx, appName, machineId, timeoutMs) {
  const outcome = await pollUntil(() => {
    const machine = ctx.readState().apps[appName]?.machines[machineId];
    if (!machine) return 'stopped';
    if (machine.state === 'started') return isProcessAlive(machine.pid) ? 'started' : 'stopped';
    if (machine.state === 'stopped' || (machine.pid && !isProcessAlive(machine.pid))) return 'stopped';
    return undefined;
  }, { timeoutMs, intervalMs: START_POLL_MS, signal: ctx.signal });
  return 'value' in outcome ? /** @type {'started' | 'stopped'} */ (outcome.value) : 'timeout';
}

/**
 * Whether the machine was restarted since it got its image (events are newest first; a launch or an
 * update gives it an image).
 * @param {import('./state.js').MachineRecord} machine
 */
function isRestartedSinceImage(machine) {
  const imageEvent = machine.events.findIndex((event) => event.type === 'launch' || event.type === 'update');
  const restart = machine.events.findIndex((event) => event.type === 'restart');
  return restart >= 0 && (imageEvent < 0 || restart < imageEvent);
}

/**
 * Starts the process for the machine's current record and notes its pid.
 * @param {CommandContext} ctx
 * @param {string} appName
 * @param {string} machineId
 */
async function launchMachineProcess(ctx, appName, machineId) {
  const state = ctx.readState();
  const app = state.apps[appName];
  const machine = app.machines[machineId];
  const manifest = state.images[machine.imageRef]?.manifest ?? normalizeManifest({});
  const secretValues = Object.fromEntries(Object.entries(app.secrets).map(([name, secret]) => [name, secret.value]));
  const spec = {
    dir: ctx.dir,
    app: appName,
    machineId,
    instanceId: machine.instanceId,
    region: machine.region,
    imageRef: machine.imageRef,
    releaseVersion: machine.config.metadata.fly_release_version,
    internalPort: machine.config.internalPort,
    // When this machine got its image (created or updated; a restart keeps it): the clock of a
    // degradation that survives restarts (manifest restartHeals: false).
    imageSinceMs: Date.parse(machine.updatedAt),
    isRestartedSinceImage: isRestartedSinceImage(machine),
    manifest,
  };
  const env = {
    PATH: ctx.env.PATH,
    ...machine.config.env,
    ...secretValues,
    FLY_APP_NAME: appName,
    FLY_MACHINE_ID: machineId,
    FLY_ALLOC_ID: machineId,
    FLY_MACHINE_VERSION: machine.instanceId,
    FLY_REGION: machine.region,
    FLY_IMAGE_REF: machine.imageRef,
    FLY_PRIVATE_IP: machine.privateIp,
    FLY_SIM_MACHINE_SPEC: JSON.stringify(spec),
  };
  const pid = spawnDetachedNode(ctx.dir, MACHINE_SERVER_SCRIPT, [dirMarker(ctx.dir), machineMarker(machineId)], { env, outputName: machineId });
  await ctx.updateState((current) => {
    const record = current.apps[appName]?.machines[machineId];
    if (record?.instanceId !== machine.instanceId) return;
    record.pid = pid;
    if (record.state !== 'started' && record.state !== 'stopped') record.state = 'starting';
  });
}
