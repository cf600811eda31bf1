// @ts-check
/* global structuredClone */
// Helpers for tests and sandbox mode around the flyctl simulator: a state directory, apps with a
// deployed image and running machines, source directories with chosen behaviour, fault injection,
// the call log, and teardown that leaves no process behind. Types: sim/testing.d.ts.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCallRecords } from './lib/call-log.js';
import { findFlyctlClient, serverSocketPath } from './lib/flyctl-service.js';
import { addFault } from './lib/faults.js';
import { stopMachine } from './lib/machine-runtime.js';
import { machinesById } from './lib/machines.js';
import { MANIFEST_FILE_NAME } from './lib/manifest.js';
import { releasesNewestFirst, renderRelease } from './lib/releases.js';
import { resumeSimProcesses } from './lib/resume.js';
import { dirMarker } from './lib/process-markers.js';
import { findProcessesWithMarker, processHasMarker, terminateProcess } from './lib/processes.js';
import { spawnDetachedNode } from './lib/spawn.js';
import { killAllSimProcesses, listSimProcesses } from './lib/teardown.js';
import { readState, simPaths, updateState } from './lib/state.js';

export { killAllSimProcesses } from './lib/teardown.js';
export { isProcessAlive as isProcessRunning } from './lib/processes.js';

export const FLYCTL_PATH = fileURLToPath(new URL('./bin/flyctl', import.meta.url));
export { findFlyctlClient as flyctlClientPath } from './lib/flyctl-service.js';
const SERVER_SCRIPT = fileURLToPath(new URL('./lib/flyctl-server.js', import.meta.url));
const SERVER_MARKER = '--fly-sim-flyctl-server';
const SERVER_START_LIMIT_MS = 10_000;
const SIM_TOKEN = 'fo1_flightdeck_simulator_token';

/** Ready-made behaviours for makeSourceDir / createApp. */
export const BEHAVIOURS = Object.freeze({
  healthy: {},
  unhealthy: { health: 'fail' },
  'smoke-fails': { routes: { '/': { status: 500, body: 'Internal Server Error\n' } } },
  crash: { crashOnStart: true },
  'slow-start': { healthyAfterMs: 1500 },
  'release-fails': { releaseCommand: { exitCode: 1, output: ['Running migrations...', 'Error: migration 0042_add_index failed: relation "orders" does not exist'] } },
  'build-fails': { build: { fails: true } },
  degrades: { failHealthAfterRequests: 3 },
});

let sourceDirCount = 0;

/**
 * @param {import('./testing.js').CreateSimOptions} [options]
 * @returns {Promise<import('./testing.js').Sim>}
 */
/**
 * @param {import('./lib/state.js').SimState} state
 * @param {string} appName
 */
function existingApp(state, appName) {
  const app = state.apps[appName];
  if (!app) throw new Error(`the simulator has no app ${appName}`);
  return app;
}

export async function createSim(options = {}) {
  const isOwnDir = !options.dir;
  const dir = path.resolve(options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'fly-sim-')));
  fs.mkdirSync(dir, { recursive: true });
  const ownerPid = options.ownerPid === undefined ? process.pid : options.ownerPid;
  const hasState = fs.existsSync(simPaths(dir).stateFile);
  await updateState(dir, (state) => {
    state.settings = { ...state.settings, ...options.settings, ownerPid };
  });
  // A directory from an earlier run (sandbox mode) comes back with its apps serving again.
  if (hasState) await resumeSimProcesses(dir);
  const server = await startFlyctlServer(dir);
  const flyctlPath = server ? server.client : FLYCTL_PATH;
  const env = { FLY_SIM_DIR: dir, FLYCTL_PATH: flyctlPath, FLY_API_TOKEN: SIM_TOKEN };

  // Like a script's shell, minus LOG_LEVEL: flyctl would print its log lines on stdout (a test may
  // set LOG_LEVEL for the code under test without breaking its own reads).
  const baseEnv = () => {
    const { LOG_LEVEL: _ignored, ...rest } = process.env;
    return { ...rest, ...env };
  };
  /** @type {import('./testing.js').Sim['run']} */
  const run = (args, runOptions = {}) => runFlyctl(flyctlPath, args, { cwd: runOptions.cwd ?? dir, env: { ...baseEnv(), ...runOptions.env }, input: runOptions.input, timeoutMs: runOptions.timeoutMs });

  /** @type {import('./testing.js').Sim['runOrThrow']} */
  const runOrThrow = async (args, runOptions) => {
    const result = await run(args, runOptions);
    if (result.exitCode !== 0) throw new Error(`flyctl ${args.join(' ')} exited ${result.exitCode}: ${result.stderr.trim() || result.stdout.trim()}`);
    return result;
  };

  /** @type {import('./testing.js').Sim['makeSourceDir']} */
  const makeSourceDir = (behaviour = 'healthy', sourceOptions = {}) => {
    sourceDirCount += 1;
    const manifest = { version: `v${sourceDirCount}`, ...resolveBehaviour(behaviour) };
    const sourceDir = path.join(simPaths(dir).sourcesDir, `src-${process.pid}-${sourceDirCount}`);
    fs.mkdirSync(sourceDir, { recursive: true });
    fs.writeFileSync(path.join(sourceDir, MANIFEST_FILE_NAME), `${JSON.stringify(manifest, null, 2)}\n`);
    fs.writeFileSync(path.join(sourceDir, 'fly.toml'), flyToml(manifest, sourceOptions));
    return sourceDir;
  };

  /** @type {import('./testing.js').Sim} */
  const sim = {
    dir,
    env,
    flyctlPath,
    serverPid: server?.pid ?? null,
    run,
    runOrThrow,
    async runJson(args, runOptions) {
      const { stdout } = await runOrThrow([...args, '--json'], runOptions);
      return JSON.parse(stdout);
    },
    makeSourceDir,
    start: (args, runOptions = {}) => startFlyctl(flyctlPath, args, { cwd: runOptions.cwd ?? dir, env: { ...baseEnv(), ...runOptions.env } }),
    async createApp(name, appOptions = {}) {
      const machines = appOptions.machines ?? 1;
      await runOrThrow(['apps', 'create', name]);
      const sourceDir = typeof appOptions.image === 'string' && fs.existsSync(appOptions.image)
        ? appOptions.image
        : makeSourceDir(appOptions.image ?? 'healthy', { app: name, releaseCommand: appOptions.releaseCommand, strategy: appOptions.strategy });
      if (machines > 0) {
        await runOrThrow(['deploy', sourceDir, '-a', name, '--yes', `--ha=${machines > 1}`]);
        if (machines > 2) await runOrThrow(['scale', 'count', String(machines), '--yes', '-a', name]);
      }
      const app = readState(dir).apps[name];
      const latest = [...app.releases].sort((a, b) => b.version - a.version)[0];
      return { name, sourceDir, imageRef: latest?.imageRef ?? '', appUrl: sim.appUrl(name) };
    },
    releases(appName) {
      const state = readState(dir);
      return releasesNewestFirst(existingApp(state, appName)).map((release) => renderRelease(release, state.settings.user));
    },
    machineImages(appName) {
      return machinesById(existingApp(readState(dir), appName)).map((machine) => machine.imageRef);
    },
    appUrl(appName) {
      const port = readState(dir).apps[appName]?.router?.port;
      if (!port) throw new Error(`the simulator has no app ${appName}`);
      return `http://127.0.0.1:${port}`;
    },
    async injectFault(command, fault) {
      await updateState(dir, (state) => addFault(state, command, fault));
    },
    pendingFaults: () => readState(dir).faults.map(({ command, kind, remaining }) => ({ command, kind, remaining })),
    async clearFaults() {
      await updateState(dir, (state) => {
        state.faults = [];
      });
    },
    async configure(settings) {
      await updateState(dir, (state) => {
        state.settings = { ...state.settings, ...settings };
      });
    },
    async setProxyTarget(appName, host, port) {
      await updateState(dir, (state) => {
        const app = state.apps[appName];
        if (!app) throw new Error(`the simulator has no app ${appName}`);
        app.proxyTarget = { host, port };
      });
    },
    async stopMachine(appName, machineId) {
      /** @type {any} */
      const ctx = { dir, readState: () => readState(dir), updateState: (/** @type {any} */ mutate) => updateState(dir, mutate) };
      await stopMachine(ctx, appName, machineId);
    },
    callLog: () => readCallRecords(dir),
    callCount: (command) => readCallRecords(dir).filter((record) => record.command === command).length,
    deployCount: (imageRef) => readCallRecords(dir).filter((record) => record.command === 'deploy' && record.deployedImage === imageRef).length,
    processIds: () => listSimProcesses(dir).map(({ pid }) => pid).filter((pid) => pid !== server?.pid),
    readState: () => readState(dir),
    async teardown() {
      const { apps, settings } = readState(dir);
      // The flyctl server carries the directory's marker: it stops with the machines and routers.
      await killAllSimProcesses(dir);
      if (server) fs.rmSync(server.socket, { force: true });
      // Machines that were running keep their scrape targets (a replacement takes them over): not after teardown.
      if (settings.metricsTargetsDir) {
        for (const [app, record] of Object.entries(apps)) for (const id of Object.keys(record.machines)) fs.rmSync(path.join(settings.metricsTargetsDir, `${app}-${id}.json`), { force: true });
      }
      if (isOwnDir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return sim;
}

/**
 * @param {import('./testing.js').SimBehaviour} behaviour
 * @returns {import('./testing.js').SimAppManifest}
 */
function resolveBehaviour(behaviour) {
  if (typeof behaviour !== 'string') return behaviour;
  const preset = BEHAVIOURS[/** @type {keyof typeof BEHAVIOURS} */ (behaviour)];
  if (!preset) throw new Error(`unknown simulator behaviour "${behaviour}" (known: ${Object.keys(BEHAVIOURS).join(', ')})`);
  return structuredClone(preset);
}

/**
 * @param {import('./testing.js').SimAppManifest} manifest
 * @param {import('./testing.js').SourceDirOptions} options
 */
function flyToml(manifest, options) {
  const releaseCommand = options.releaseCommand ?? (manifest.releaseCommand ? 'bin/migrate' : undefined);
  const checkPath = options.checkPath ?? manifest.healthPath ?? '/health';
  const lines = [
    ...(options.app ? [`app = ${JSON.stringify(options.app)}`] : []),
    'primary_region = "iad"',
    '',
    ...(releaseCommand || options.strategy || options.releaseCommandTimeout ? ['[deploy]'] : []),
    ...(releaseCommand ? [`  release_command = ${JSON.stringify(releaseCommand)}`] : []),
    ...(options.releaseCommandTimeout ? [`  release_command_timeout = ${JSON.stringify(options.releaseCommandTimeout)}`] : []),
    ...(options.strategy ? [`  strategy = ${JSON.stringify(options.strategy)}`] : []),
    '',
    '[http_service]',
    '  internal_port = 8080',
    '',
    '  [[http_service.checks]]',
    '    interval = "15s"',
    '    timeout = "2s"',
    '    grace_period = "1s"',
    '    method = "GET"',
    `    path = ${JSON.stringify(checkPath)}`,
    ...(options.machineChecks ? ['', '  [[http_service.machine_checks]]', '    command = ["bin/check"]'] : []),
    ...(options.extraToml ? ['', options.extraToml] : []),
  ];
  return `${lines.join('\n')}\n`;
}

let hasWarnedNoClient = false;

/**
 * Starts the directory's flyctl server (sim/lib/flyctl-server.js) and waits until it listens.
 * Null when the client is not built (no Go: scripts/flyctl-client.sh) or the server did not come
 * up: flyctl then runs as a node process per call (sim/bin/flyctl), slower but the same.
 * @param {string} dir
 * @returns {Promise<{ client: string, socket: string, pid: number } | null>}
 */
async function startFlyctlServer(dir) {
  const client = findFlyctlClient();
  if (!client) {
    if (!hasWarnedNoClient) console.warn('flyctl simulator: its client is not built (npm run setup builds it with Go), so each flyctl call starts a node process (slower)');
    hasWarnedNoClient = true;
    return null;
  }
  // One server per directory: one left by an earlier owner of this directory gives way.
  const marker = dirMarker(dir);
  await Promise.all(findProcessesWithMarker(marker).filter((pid) => processHasMarker(pid, SERVER_MARKER)).map((pid) => terminateProcess(pid, marker)));
  const socket = serverSocketPath(dir);
  fs.rmSync(socket, { force: true });
  const pid = spawnDetachedNode(dir, SERVER_SCRIPT, [marker, SERVER_MARKER, `--socket=${socket}`], { env: { PATH: process.env.PATH }, outputName: 'flyctl-server' });
  const deadline = Date.now() + SERVER_START_LIMIT_MS;
  while (!fs.existsSync(socket)) {
    if (Date.now() > deadline) {
      console.warn(`flyctl simulator: its server for ${dir} did not start within ${SERVER_START_LIMIT_MS} ms (see ${path.join(simPaths(dir).runDir, 'flyctl-server.out')}); flyctl runs as a node process per call`);
      return null;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return { client, socket, pid };
}

/**
 * Runs the simulator with an argument array (never a shell).
 * @param {string} flyctlPath
 * @param {string[]} args
 * @param {{ cwd: string, env: NodeJS.ProcessEnv, input?: string, timeoutMs?: number }} options
 * @returns {Promise<import('./testing.js').RunResult>}
 */
function runFlyctl(flyctlPath, args, { cwd, env, input, timeoutMs }) {
  return new Promise((resolve, reject) => {
    const child = spawn(flyctlPath, args, { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => { stdout += chunk; });
    child.stderr.setEncoding('utf8').on('data', (chunk) => { stderr += chunk; });
    const timer = timeoutMs ? setTimeout(() => child.kill('SIGTERM'), timeoutMs) : undefined;
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ exitCode: code ?? -1, signal, stdout, stderr });
    });
    // A command that ends without reading its stdin closes the pipe first (EPIPE): its output and exit
    // code are the answer, and an unheard 'error' would be an uncaught exception in the test process.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
  });
}

/**
 * Starts a long-running flyctl call (proxy, logs) and lets the caller wait for its output.
 * @param {string} flyctlPath
 * @param {string[]} args
 * @param {{ cwd: string, env: NodeJS.ProcessEnv }} options
 * @returns {import('./testing.js').RunningCommand}
 */
function startFlyctl(flyctlPath, args, { cwd, env }) {
  const child = spawn(flyctlPath, args, { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  /** @type {Array<() => void>} */
  const listeners = [];
  const notify = () => listeners.splice(0).forEach((listener) => listener());
  child.stdout.setEncoding('utf8').on('data', (chunk) => { stdout += chunk; notify(); });
  child.stderr.setEncoding('utf8').on('data', (chunk) => { stderr += chunk; notify(); });
  /** @type {Promise<import('./testing.js').RunResult>} */
  const exited = new Promise((resolve) => {
    child.on('close', (code, signal) => {
      resolve({ exitCode: code ?? -1, signal, stdout, stderr });
      notify();
    });
  });
  let hasExited = false;
  void exited.then(() => { hasExited = true; });
  return {
    pid: /** @type {number} */ (child.pid),
    closeStdin: () => { child.stdin.end(); },
    waitForOutput(pattern, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`flyctl ${args.join(' ')} printed no ${pattern} within ${timeoutMs} ms; stdout: ${stdout} stderr: ${stderr}`)), timeoutMs);
        const check = () => {
          const match = pattern.exec(stdout) ?? pattern.exec(stderr);
          if (match) {
            clearTimeout(timer);
            return resolve(match);
          }
          if (hasExited) {
            clearTimeout(timer);
            return reject(new Error(`flyctl ${args.join(' ')} exited before printing ${pattern}; stdout: ${stdout} stderr: ${stderr}`));
          }
          listeners.push(check);
        };
        check();
      });
    },
    stop(signal = 'SIGTERM') {
      if (!hasExited) child.kill(signal);
      return exited;
    },
    exited,
  };
}
