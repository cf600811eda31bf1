// @ts-check
// The simulated platform's state: one JSON file in FLY_SIM_DIR. Writers hold the lock file and
// replace the file atomically (temp file + rename), so readers without the lock (machine servers,
// routers, read-only commands) always see a whole state.
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
 * Reads the state without the lock (a consistent snapshot thanks to atomic writes).
 * @param {string} dir
 * @returns {SimState}
 */
export function readState(dir) {
  try {
    const state = /** @type {SimState} */ (JSON.parse(fs.readFileSync(simPaths(dir).stateFile, 'utf8')));
    state.settings = { ...defaultSettings(), ...state.settings };
    return state;
  } catch (err) {
    if (/** @type {NodeJS.ErrnoException} */ (err).code === 'ENOENT') return emptyState();
    throw err;
  }
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
  const { stateFile, lockFile } = simPaths(dir);
  return withFileLock(lockFile, () => {
    const state = readState(dir);
    const result = mutate(state);
    const tempFile = `${stateFile}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    fs.writeFileSync(tempFile, JSON.stringify(state));
    fs.renameSync(tempFile, stateFile);
    return result;
  });
}
