// @ts-check
// The simulated platform's state: one JSON file in FLY_SIM_DIR. Writers hold the lock file and
// replace the file atomically (temp file + rename), so readers without the lock (machine servers,
// routers, read-only commands) always see a whole state.
//
// Hundreds of processes read it (every machine and router checks once a second whether it is still
// wanted; deploys poll machines every 20-50 ms), and the file grows with the apps: parsing it on every
// read made the simulator O(processes x apps) per second (100 pipelines did not finish on 2 cores).
// So a process keeps the last state it parsed and parses again only when the file changed
// (readStateSnapshot), and each write also leaves a small index of the processes the state names
// (wanted.json, readWantedProcesses), which is all a machine's or router's watchdog reads.
import fs from 'node:fs';
import path from 'node:path';
import { withFileLock } from './file-lock.js';
import { FlyError } from './errors.js';

/**
 * @typedef {{ name: string, type: 'http' | 'tcp', port: number, path: string, interval: string, timeout: string, gracePeriod: string, method: string }} CheckDefinition
 * @typedef {{
 *   appName: string, primaryRegion: string, env: Record<string, string>, releaseCommand: string,
 *   strategy: string, waitTimeout: string, releaseCommandTimeout: string, maxUnavailable: number | null, internalPort: number,
 *   checks: CheckDefinition[], buildImage: string, files: Array<{ guestPath: string, localPath: string }>,
 *   hasMachineChecks: boolean, problems: string[]
 * }} AppConfig
 * @typedef {{ type: string, status: string, source: string, timestamp: number, exitCode?: number }} MachineEvent
 * @typedef {{
 *   env: Record<string, string>, metadata: Record<string, string>, checks: CheckDefinition[],
 *   internalPort: number, guest: { cpu_kind: string, cpus: number, memory_mb: number }
 * }} MachineConfigRecord
 * @typedef {{
 *   id: string, name: string, region: string, state: string, instanceId: string, privateIp: string,
 *   createdAt: string, updatedAt: string, imageRef: string, config: MachineConfigRecord,
 *   events: MachineEvent[], pid: number | null, port: number | null
 * }} MachineRecord
 * @typedef {{
 *   id: string, version: number, status: 'pending' | 'running' | 'complete' | 'failed' | 'interrupted',
 *   imageRef: string, config?: AppConfig | null, createdAt: string, createdAtMs: number, reason: string, description: string, error: string
 * }} ReleaseRecord
 * @typedef {{ value: string, digest: string, updatedAtMs: number }} SecretRecord
 * @typedef {{ owner: string, pid: number, nonce: string, acquiredAt: string }} LeaseRecord
 * @typedef {{
 *   name: string, id: string, orgSlug: string, createdAt: string, router: { id: string, pid: number | null, port: number | null } | null,
 *   secrets: Record<string, SecretRecord>, releases: ReleaseRecord[], machines: Record<string, MachineRecord>,
 *   config: AppConfig | null, lease: LeaseRecord | null, proxyTarget: { host: string, port: number } | null
 * }} AppRecord
 * @typedef {{
 *   ref: string, app: string, registry: string, repository: string, tag: string, digest: string,
 *   manifest: import('./manifest.js').Manifest, builtAt: string, isPushed: boolean
 * }} ImageRecord
 * @typedef {{
 *   id: string, command: string, kind: 'rate-limited' | 'connection-reset' | 'fail' | 'hang',
 *   remaining: number | null, message: string, hangMs: number | null, exitCode: number
 * }} FaultRecord
 * @typedef {{
 *   ownerPid: number | null, validTokens: string[] | null, user: { id: string, name: string, email: string },
 *   org: { id: string, internalNumericId: string, name: string, slug: string },
 *   region: string, smokeCheckMs: number, healthPollMs: number, maxWaitTimeoutMs: number | null,
 *   metricsTargetsDir: string | null
 * }} Settings
 * @typedef {{
 *   schemaVersion: 1, apps: Record<string, AppRecord>, images: Record<string, ImageRecord>,
 *   faults: FaultRecord[], settings: Settings, proxies: Record<string, { app: string, port: number }>
 * }} SimState
 */

/** @returns {Settings} */
export function defaultSettings() {
  return {
    ownerPid: null,
    validTokens: null,
    user: { id: 'sim-user-1', name: 'Flightdeck Simulator', email: 'sim@flightdeck.test' },
    org: { id: 'sim-org-1', internalNumericId: '1001', name: 'Personal', slug: 'personal' },
    region: 'iad',
    // Real flyctl watches a new machine for up to 10 s for crash loops; the simulator is quicker.
    smokeCheckMs: 100,
    healthPollMs: 50,
    // Tests may cap --wait-timeout so code that passes flyctl's 5m default still fails fast.
    maxWaitTimeoutMs: null,
    // Where listening machines register as Prometheus file_sd targets (null: nowhere).
    metricsTargetsDir: null,
  };
}

/** @returns {SimState} */
function emptyState() {
  return { schemaVersion: 1, apps: {}, images: {}, faults: [], settings: defaultSettings(), proxies: {} };
}

/** @param {string} dir */
export function simPaths(dir) {
  return {
    stateFile: path.join(dir, 'state.json'),
    wantedFile: path.join(dir, 'wanted.json'),
    lockFile: path.join(dir, 'state.lock'),
    callLog: path.join(dir, 'calls.jsonl'),
    logsDir: path.join(dir, 'logs'),
    runDir: path.join(dir, 'run'),
    sourcesDir: path.join(dir, 'sources'),
  };
}

/**
 * The state directory from FLY_SIM_DIR, made absolute (a relative one from the call's working directory).
 * @param {NodeJS.ProcessEnv} env
 * @param {string} cwd
 */
export function requireSimDir(env, cwd) {
  const dir = env.FLY_SIM_DIR;
  if (!dir) throw new FlyError('FLY_SIM_DIR is not set: the flyctl simulator keeps its state in that directory');
  return path.resolve(cwd, dir);
}

/**
 * Reads the state without the lock (a consistent snapshot thanks to atomic writes), freshly parsed:
 * the caller may change it (updateState does). Read-only callers use readStateSnapshot.
 * @param {string} dir
 * @returns {SimState}
 */
export function readState(dir) {
  try {
    return parseState(fs.readFileSync(simPaths(dir).stateFile));
  } catch (err) {
    if (/** @type {NodeJS.ErrnoException} */ (err).code === 'ENOENT') return emptyState();
    throw err;
  }
}

/**
 * The state as readState reads it, but shared and deeply frozen (changing it throws): parsed again
 * only when the file was replaced since this process last read it. For every read-only use.
 * @param {string} dir
 * @returns {SimState}
 */
export function readStateSnapshot(dir) {
  return readSnapshot(simPaths(dir).stateFile, (bytes) => deepFreeze(parseState(bytes))) ?? deepFreeze(emptyState());
}

/**
 * Who may run for this directory: the owner process and the machine instances and routers the
 * state names (what the watchdog of each asks). From wanted.json, which every write of the state
 * leaves next to it; from the state itself for a directory written before that file existed.
 * @typedef {{ ownerPid: number | null, machines: Record<string, string>, routers: Record<string, string> }} WantedProcesses
 * machines: `<app>/<machine id>` → instance id; routers: app → router id.
 * @param {string} dir
 * @returns {WantedProcesses}
 */
export function readWantedProcesses(dir) {
  const wanted = readSnapshot(simPaths(dir).wantedFile, (bytes) => deepFreeze(JSON.parse(bytes.toString('utf8'))));
  return wanted ?? wantedProcessesOf(readStateSnapshot(dir));
}

/** @param {string} app @param {string} machineId */
export const wantedMachineKey = (app, machineId) => `${app}/${machineId}`;

/**
 * @param {SimState} state
 * @returns {WantedProcesses}
 */
function wantedProcessesOf(state) {
  /** @type {WantedProcesses} */
  const wanted = { ownerPid: state.settings.ownerPid ?? null, machines: {}, routers: {} };
  for (const app of Object.values(state.apps)) {
    for (const machine of Object.values(app.machines)) wanted.machines[wantedMachineKey(app.name, machine.id)] = machine.instanceId;
    if (app.router) wanted.routers[app.name] = app.router.id;
  }
  return wanted;
}

/** @param {Buffer} bytes @returns {SimState} */
function parseState(bytes) {
  const state = /** @type {SimState} */ (JSON.parse(bytes.toString('utf8')));
  state.settings = { ...defaultSettings(), ...state.settings };
  return state;
}

/**
 * A file younger than this may share its stat (inode, size, times) with one written after it in
 * the same tick of the kernel's coarse file clock, once its inode is freed and reused; so a young
 * file's snapshot is confirmed by its bytes, an older one by its stat alone.
 */
const SETTLED_AFTER_MS = 100;

/**
 * Per file: the stat it had when last parsed, its bytes while young (null once settled), the value.
 * @type {Map<string, { key: string, bytes: Buffer | null, value: unknown }>}
 */
const snapshots = new Map();

/**
 * The parsed file, parsed again only when it changed (writers replace it by rename, never in
 * place, so an open descriptor's stat and bytes belong together). undefined when there is none.
 * @template T
 * @param {string} file
 * @param {(bytes: Buffer) => T} parse
 * @returns {T | undefined}
 */
function readSnapshot(file, parse) {
  let fd;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    if (/** @type {NodeJS.ErrnoException} */ (err).code !== 'ENOENT') throw err;
    snapshots.delete(file);
    return undefined;
  }
  try {
    const stat = fs.fstatSync(fd, { bigint: true });
    const key = `${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}`;
    const cached = snapshots.get(file);
    if (cached?.key === key && cached.bytes === null) return /** @type {T} */ (cached.value);
    const bytes = fs.readFileSync(fd);
    const changedAtMs = Number((stat.mtimeNs > stat.ctimeNs ? stat.mtimeNs : stat.ctimeNs) / 1_000_000n);
    const isSettled = Date.now() - changedAtMs > SETTLED_AFTER_MS;
    const value = cached?.bytes?.equals(bytes) ? /** @type {T} */ (cached.value) : parse(bytes);
    snapshots.set(file, { key, bytes: isSettled ? null : bytes, value });
    return value;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * @template T
 * @param {T} value
 * @returns {T}
 */
function deepFreeze(value) {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/**
 * Read-modify-write under the lock. mutate changes the state in place and may return a result.
 * @template T
 * @param {string} dir
 * @param {(state: SimState) => T} mutate
 * @returns {Promise<T>}
 */
export async function updateState(dir, mutate) {
  fs.mkdirSync(dir, { recursive: true });
  const { stateFile, wantedFile, lockFile } = simPaths(dir);
  return withFileLock(lockFile, () => {
    const state = readState(dir);
    const result = mutate(state);
    // The index first: a process the new state names is started only after this write returns.
    replaceFile(wantedFile, JSON.stringify(wantedProcessesOf(state)));
    replaceFile(stateFile, JSON.stringify(state));
    return result;
  });
}

/**
 * Writes a temp file and renames it over file, so readers see the old or the new content, whole.
 * @param {string} file
 * @param {string} content
 */
function replaceFile(file, content) {
  const tempFile = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  fs.writeFileSync(tempFile, content);
  fs.renameSync(tempFile, file);
}
