// @ts-check
// The app's fly-proxy stand-in: an HTTP server on its own loopback port (the app's AppURL in
// `fly status --json`) that forwards each request to the app's started machines in turn. Like
// fly-proxy it retries another machine when one refuses the connection. It does not skip machines
// whose health checks fail: a mixed or failing fleet shows through, which is what tests look at.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { isProcessAlive } from './processes.js';
import { readStateSnapshot, updateState } from './state.js';
import { startWatchdog } from './watchdog.js';

const options = Object.fromEntries(process.argv.slice(2).map((arg) => arg.replace(/^--/, '').split('=')));
const dir = String(options['fly-sim-dir']);
const appName = String(options['fly-sim-router']);
const routerId = String(options['router-id']);
const STATE_CACHE_MS = 100;

let nextMachineIndex = 0;
/** @type {{ readAtMs: number, targets: Array<{ id: string, port: number }> }} */
let cache = { readAtMs: 0, targets: [] };

function startedMachines() {
  if (Date.now() - cache.readAtMs > STATE_CACHE_MS) {
    const machines = Object.values(readStateSnapshot(dir).apps[appName]?.machines ?? {});
    const targets = machines
      .filter((machine) => machine.state === 'started' && machine.port && isProcessAlive(machine.pid))
      .sort((a, b) => a.id.localeCompare(b.id))
      .map((machine) => ({ id: machine.id, port: /** @type {number} */ (machine.port) }));
    cache = { readAtMs: Date.now(), targets };
  }
  return cache.targets;
}

/**
 * @param {http.IncomingMessage} req
 * @param {Buffer} body
 * @param {http.ServerResponse} res
 * @param {number} attemptsLeft
 */
function forward(req, body, res, attemptsLeft) {
  const targets = startedMachines();
  if (targets.length === 0 || attemptsLeft === 0) {
    res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', server: 'Fly/sim' });
    res.end(`no started machines for app ${appName}\n`);
    return;
  }
  const target = targets[nextMachineIndex++ % targets.length];
  const upstream = http.request({ host: '127.0.0.1', port: target.port, method: req.method, path: req.url, headers: { ...req.headers, 'fly-forwarded-port': '443' } }, (upstreamRes) => {
    res.writeHead(upstreamRes.statusCode ?? 502, { ...upstreamRes.headers, server: 'Fly/sim', via: '1.1 fly.io', 'fly-request-id': `${randomBytes(10).toString('hex')}-iad` });
    upstreamRes.pipe(res);
  });
  upstream.on('error', () => {
    if (res.headersSent) return res.destroy();
    cache.readAtMs = 0;
    forward(req, body, res, attemptsLeft - 1);
  });
  upstream.end(body);
}

const server = http.createServer((req, res) => {
  /** @type {Buffer[]} */
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => forward(req, Buffer.concat(chunks), res, Math.max(1, startedMachines().length)));
});
server.keepAliveTimeout = 1000;

function stop() {
  server.close();
  server.closeAllConnections();
  process.exit(0);
}

process.on('SIGTERM', stop);
process.on('SIGINT', stop);
server.listen(Number(options.port ?? 0), '127.0.0.1', async () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await updateState(dir, (state) => {
    const app = state.apps[appName];
    if (app?.router?.id === routerId) app.router = { ...app.router, pid: process.pid, port };
  });
  startWatchdog(dir, (wanted) => wanted.routers[appName] === routerId, stop);
});
server.on('error', () => process.exit(1));
