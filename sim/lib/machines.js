// @ts-check
// Machine records in the state and their Machines-API JSON (snake_case, fly-go's field order and
// omitempty rules). A machine whose process has died reads as "stopped", like a machine that exited.
import { newMachineId, newMachineName, newPrivateIp, newUlid } from './ids.js';
import { parseImageRef } from './images.js';
import { isProcessAlive } from './processes.js';
import { SIMULATED_FLYCTL_VERSION } from './flyctl-version.js';

const MAX_EVENTS = 10;
const DEFAULT_GUEST = { cpu_kind: 'shared', cpus: 1, memory_mb: 256 };

/**
 * The observed state: a record says started or starting, but its process is gone → stopped.
 * @param {import('./state.js').MachineRecord} machine
 */
export function observedState(machine) {
  const isRunningState = machine.state === 'started' || machine.state === 'starting';
  if (isRunningState && machine.pid && !isProcessAlive(machine.pid)) return 'stopped';
  return machine.state;
}

/**
 * Machines of an app sorted by id (the order rolling deploys update them in).
 * @param {import('./state.js').AppRecord} app
 */
export function machinesById(app) {
  return Object.values(app.machines).sort((a, b) => a.id.localeCompare(b.id));
}

/**
 * The machine config a release gives: the app config's env and checks, the release metadata.
 * @param {{ appConfig: import('./state.js').AppConfig, region: string, releaseId: string, releaseVersion: number, extraEnv?: Record<string, string>, extraMetadata?: Record<string, string> }} options
 * @returns {import('./state.js').MachineConfigRecord}
 */
export function machineConfigFor({ appConfig, region, releaseId, releaseVersion, extraEnv = {}, extraMetadata = {} }) {
  return {
    env: { ...appConfig.env, ...extraEnv, FLY_PROCESS_GROUP: 'app', PRIMARY_REGION: appConfig.primaryRegion || region },
    metadata: {
      fly_flyctl_version: SIMULATED_FLYCTL_VERSION,
      fly_platform_version: 'v2',
      fly_process_group: 'app',
      fly_release_id: releaseId,
      fly_release_version: String(releaseVersion),
      ...extraMetadata,
    },
    checks: appConfig.checks,
    internalPort: appConfig.internalPort,
    guest: { ...DEFAULT_GUEST },
  };
}

/**
 * A new machine record, not yet started.
 * @param {{ region: string, imageRef: string, config: import('./state.js').MachineConfigRecord }} options
 * @returns {import('./state.js').MachineRecord}
 */
export function newMachineRecord({ region, imageRef, config }) {
  const now = new Date().toISOString();
  return {
    id: newMachineId(),
    name: newMachineName(),
    region,
    state: 'created',
    instanceId: newUlid(),
    privateIp: newPrivateIp(),
    createdAt: now,
    updatedAt: now,
    imageRef,
    config,
    events: [{ type: 'launch', status: 'created', source: 'user', timestamp: Date.now() }],
    pid: null,
    port: null,
  };
}

/**
 * @param {import('./state.js').MachineRecord} machine
 * @param {import('./state.js').MachineEvent} event
 */
export function recordEvent(machine, event) {
  machine.events = [event, ...machine.events].slice(0, MAX_EVENTS);
}

/**
 * Machines-API JSON for a machine, with its current check statuses and its image's digest.
 * @param {import('./state.js').MachineRecord} machine
 * @param {Array<{ name: string, status: string, output: string, updated_at: string }>} checkStatuses
 * @param {string} imageDigest
 */
export function renderMachine(machine, checkStatuses, imageDigest) {
  const { registry, repository, tag } = parseImageRef(machine.imageRef);
  const { config } = machine;
  const serviceChecks = config.checks.filter((check) => check.name.startsWith('servicecheck-'));
  const topLevelChecks = config.checks.filter((check) => !check.name.startsWith('servicecheck-'));
  return {
    id: machine.id,
    name: machine.name,
    state: observedState(machine),
    region: machine.region,
    image_ref: { registry, repository, tag, digest: imageDigest },
    instance_id: machine.instanceId,
    private_ip: machine.privateIp,
    created_at: machine.createdAt,
    updated_at: machine.updatedAt,
    config: {
      env: config.env,
      init: {},
      guest: config.guest,
      metadata: config.metadata,
      services: [{
        protocol: 'tcp',
        internal_port: config.internalPort,
        autostop: 'stop',
        autostart: true,
        min_machines_running: 0,
        ports: [{ port: 80, handlers: ['http'], force_https: true }, { port: 443, handlers: ['http', 'tls'] }],
        ...(serviceChecks.length > 0 ? { checks: serviceChecks.map(renderCheckConfig) } : {}),
        force_instance_key: null,
      }],
      ...(topLevelChecks.length > 0 ? { checks: Object.fromEntries(topLevelChecks.map((check) => [check.name, { port: check.port, ...renderCheckConfig(check) }])) } : {}),
      image: machine.imageRef,
      restart: { policy: 'on-failure', max_retries: 10 },
    },
    events: machine.events.map(renderEvent),
    ...(checkStatuses.length > 0 ? { checks: checkStatuses } : {}),
    host_status: 'ok',
    cordoned: false,
  };
}

/** @param {import('./state.js').CheckDefinition} check */
function renderCheckConfig(check) {
  return check.type === 'tcp'
    ? { type: 'tcp', interval: check.interval, timeout: check.timeout, grace_period: check.gracePeriod }
    : { type: 'http', interval: check.interval, timeout: check.timeout, grace_period: check.gracePeriod, method: check.method, path: check.path, protocol: 'http' };
}

/** @param {import('./state.js').MachineEvent} event */
function renderEvent(event) {
  const rendered = { type: event.type, status: event.status, source: event.source, timestamp: event.timestamp };
  if (event.exitCode === undefined) return rendered;
  const exitEvent = { exit_code: event.exitCode, guest_exit_code: event.exitCode, oom_killed: false, requested_stop: false, restarting: false, exited_at: new Date(event.timestamp).toISOString() };
  return { type: event.type, status: event.status, request: { exit_event: exitEvent }, source: event.source, timestamp: event.timestamp };
}
