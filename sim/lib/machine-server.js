// @ts-check
// One simulated machine: a real HTTP server on a loopback port that behaves as its image's
// manifest says (health endpoint, smoke endpoints, crash at start, slow start, degrading health).
// Started detached by flyctl; registers its own port and state, like a machine reporting to flyd.
import http from 'node:http';
import { appendAppLog } from './app-log.js';
import { createRequestMetrics, previousScrapePort, registerScrapeTarget } from './app-metrics.js';
import { readStateSnapshot, updateState, wantedMachineKey } from './state.js';
import { startWatchdog } from './watchdog.js';

/**
 * What flyctl passes in FLY_SIM_MACHINE_SPEC.
 * @typedef {{
 *   dir: string, app: string, machineId: string, instanceId: string, region: string, imageRef: string,
 *   releaseVersion: string, internalPort: number, imageSinceMs?: number, isRestartedSinceImage?: boolean, manifest: import('./manifest.js').Manifest
 * }} MachineSpec
 */

const spec = /** @type {MachineSpec} */ (JSON.parse(process.env.FLY_SIM_MACHINE_SPEC ?? '{}'));
const { manifest } = spec;
const startedAtMs = Date.now();
let successfulHealthResponses = 0;
const metrics = createRequestMetrics();
let unregisterScrapeTarget = () => undefined;

/** @param {string} message @param {string} [level] */
function log(message, level = 'info') {
  appendAppLog(spec.dir, spec.app, { instance: spec.machineId, region: spec.region, level, message, provider: 'app' });
}

/**
 * Applies a change to this machine's record, if the record still describes this process.
 * @param {(machine: import('./state.js').MachineRecord) => void} change
 */
async function updateOwnRecord(change) {
  await updateState(spec.dir, (state) => {
    const machine = state.apps[spec.app]?.machines[spec.machineId];
    if (machine && machine.instanceId === spec.instanceId) change(machine);
  });
}

/** Whether this machine sorts first in its app: the one a rolling deploy updates first. */
function isFirstMachine() {
  const ids = Object.keys(readStateSnapshot(spec.dir).apps[spec.app]?.machines ?? {}).sort();
  return ids[0] === spec.machineId;
}

/** How long the degradation clock has run: since this process started, or (restartHeals: false) since the machine got its image. */
function degradedClockMs() {
  const since = manifest.restartHeals !== false || !spec.imageSinceMs ? startedAtMs : Math.min(spec.imageSinceMs, startedAtMs);
  return Date.now() - since;
}

function healthResponse() {
  const uptimeMs = Date.now() - startedAtMs;
  if (uptimeMs < manifest.healthyAfterMs) return { status: 503, body: 'starting' };
  if (manifest.health === 'fail') return { status: 500, body: 'unhealthy' };
  if (manifest.health === 'fail-except-first' && !isFirstMachine()) return { status: 500, body: 'unhealthy' };
  const isHealedForGood = manifest.restartHeals === 'permanently' && spec.isRestartedSinceImage;
  if (manifest.failHealthAfterMs !== null && !isHealedForGood && degradedClockMs() >= manifest.failHealthAfterMs) return { status: 500, body: 'degraded' };
  if (manifest.failHealthAfterRequests !== null && successfulHealthResponses >= manifest.failHealthAfterRequests) return { status: 500, body: 'degraded' };
  successfulHealthResponses += 1;
  return { status: 200, body: 'OK' };
}

/** @type {http.RequestListener} */
function handleRequest(req, res) {
  const { pathname } = new URL(req.url ?? '/', 'http://machine');
  const receivedAt = process.hrtime.bigint();
  const identity = { 'x-sim-app': spec.app, 'x-sim-machine': spec.machineId, 'x-sim-version': manifest.version, 'x-sim-image': spec.imageRef };
  const send = (/** @type {number} */ status, /** @type {string} */ body, /** @type {Record<string, string>} */ headers = {}) => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...identity, ...headers });
    res.end(body);
    // Scrapes are not traffic: an app that serves nothing has no request metrics.
    if (pathname !== '/metrics') metrics.observe(status, Number(process.hrtime.bigint() - receivedAt) / 1e9);
  };
  if (pathname === manifest.healthPath) {
    const { status, body } = healthResponse();
    return send(status, body);
  }
  const route = manifest.routes[pathname];
  if (route) {
    const isJson = route.json !== undefined;
    return send(route.status ?? 200, isJson ? JSON.stringify(route.json) : route.body ?? '', { ...(isJson ? { 'content-type': 'application/json' } : {}), ...route.headers });
  }
  if (pathname === '/') return send(200, `${spec.app} ${manifest.version}\n`);
  if (pathname === '/metrics') {
    metrics.catchUp(manifest.traffic, Date.now() - startedAtMs);
    return send(200, metrics.render(), { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
  }
  if (pathname === '/__sim/info') {
    return send(200, JSON.stringify({ app: spec.app, machineId: spec.machineId, instanceId: spec.instanceId, imageRef: spec.imageRef, version: manifest.version, releaseVersion: spec.releaseVersion, startedAt: new Date(startedAtMs).toISOString(), envNames: Object.keys(process.env).filter((name) => name !== 'FLY_SIM_MACHINE_SPEC').sort() }), { 'content-type': 'application/json' });
  }
  return send(404, 'not found\n');
}

async function crash() {
  log(`Error: ${spec.app} ${manifest.version} failed to start (simulated crash)`, 'error');
  await updateOwnRecord((machine) => {
    machine.state = 'stopped';
    machine.events.unshift({ type: 'exit', status: 'stopped', source: 'flyd', timestamp: Date.now(), exitCode: 1 });
  });
  process.exit(1);
}

/** @type {http.Server | undefined} */
let server;

function listen() {
  const { metricsTargetsDir } = readStateSnapshot(spec.dir).settings;
  const preferredPort = previousScrapePort(metricsTargetsDir, spec.app, spec.machineId);
  server = http.createServer(handleRequest);
  server.keepAliveTimeout = 1000;
  server.once('error', (err) => {
    // The previous process's port is taken by now: any port will do (the target file follows it).
    if (/** @type {NodeJS.ErrnoException} */ (err).code !== 'EADDRINUSE' || preferredPort === 0) throw err;
    server?.listen(0, '127.0.0.1');
  });
  server.once('listening', async () => {
    const address = server?.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    log(`Listening on 0.0.0.0:${spec.internalPort}`);
    startImageLogLines();
    unregisterScrapeTarget = registerScrapeTarget(metricsTargetsDir, { ...spec, port });
    await updateOwnRecord((machine) => {
      machine.port = port;
      machine.pid = process.pid;
      machine.state = 'started';
      machine.events.unshift({ type: 'start', status: 'started', source: 'flyd', timestamp: Date.now() });
    });
  });
  server.listen(preferredPort, '127.0.0.1');
}

/** The image's own log lines (manifest logs), in turn, every logs.everyMs while the machine runs. */
function startImageLogLines() {
  const { lines, everyMs } = manifest.logs;
  if (lines.length === 0 || !(everyMs > 0)) return;
  let next = 0;
  setInterval(() => {
    const line = lines[next++ % lines.length];
    log(line.message, line.level);
  }, everyMs).unref();
}

/** A machine being replaced or restarted keeps its scrape target for its next process; a stopped or destroyed one drops it. */
function isMachineGoing() {
  try {
    const machine = readStateSnapshot(spec.dir).apps[spec.app]?.machines[spec.machineId];
    return !machine || machine.state === 'stopped' || machine.state === 'destroying' || machine.state === 'destroyed';
  } catch {
    return true;
  }
}

function stop() {
  if (isMachineGoing()) unregisterScrapeTarget();
  log('Sending signal SIGINT to main child process');
  server?.close();
  server?.closeAllConnections();
  process.exit(0);
}

process.on('SIGTERM', stop);
process.on('SIGINT', stop);
startWatchdog(spec.dir, (wanted) => wanted.machines[wantedMachineKey(spec.app, spec.machineId)] === spec.instanceId, stop);
log(`Starting ${spec.app} ${manifest.version} (${spec.imageRef})`);
if (manifest.crashOnStart) {
  setTimeout(crash, 20);
} else {
  setTimeout(listen, manifest.startDelayMs);
}
