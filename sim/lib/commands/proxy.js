// @ts-check
/* global AbortController, AbortSignal */
// `flyctl proxy LOCAL[:REMOTE] [HOST] -a APP`: forwards local TCP connections until interrupted.
// The remote end is the app's proxy target set in the simulator (e.g. a local PostgreSQL), or else
// one of its started machines. Port 0 picks a free port; the line flyctl prints when ready names it.
import net from 'node:net';
import { lookupApp } from '../app-lookup.js';
import { FlyError } from '../errors.js';
import { observedState } from '../machines.js';
import { waitUnlessAbandoned } from '../watchdog.js';

/** @param {import('../context.js').CommandContext} ctx */
export async function run(ctx) {
  const { appName, app } = lookupApp(ctx);
  const [ports, remoteHost = `${appName}.internal`] = ctx.args;
  if (!ports) throw new FlyError('requires at least 1 arg(s), only received 0');
  const [localPort, remotePort = localPort] = ports.split(':');
  const target = app.proxyTarget ?? startedMachineTarget(app);
  if (!target) throw new FlyError(`${remoteHost}: no such host`);

  const server = net.createServer((client) => {
    const upstream = net.connect({ host: target.host, port: target.port });
    client.pipe(upstream).pipe(client);
    const closeBoth = () => { client.destroy(); upstream.destroy(); };
    client.on('error', closeBoth);
    upstream.on('error', closeBoth);
  });
  const bindAddress = ctx.flags['bind-addr'] || '127.0.0.1';
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(localPort), bindAddress, () => resolve(undefined));
  });
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : Number(localPort);
  await ctx.updateState((state) => {
    state.proxies[String(ctx.pid)] = { app: appName, port: actualPort };
  });
  ctx.callRecord.proxyPort = actualPort;
  ctx.out(`Proxying localhost:${actualPort} to remote [${remoteHost}]:${remotePort}\n`);
  try {
    await untilStopped(ctx);
  } finally {
    server.close();
    await ctx.updateState((state) => {
      delete state.proxies[String(ctx.pid)];
    });
  }
}

/**
 * Blocks until SIGINT/SIGTERM or an abandoned simulator (Interrupted), or with --watch-stdin
 * until stdin closes (returns).
 * @param {import('../context.js').CommandContext} ctx
 */
async function untilStopped(ctx) {
  const stdinClosed = new AbortController();
  const stop = AbortSignal.any([ctx.signal, stdinClosed.signal]);
  if (ctx.flags['watch-stdin']) {
    ctx.stdin.on('end', () => stdinClosed.abort());
    ctx.stdin.on('close', () => stdinClosed.abort());
    ctx.stdin.resume();
  }
  try {
    await waitUnlessAbandoned({ ...ctx, signal: stop }, Infinity);
  } catch (err) {
    if (!stdinClosed.signal.aborted || ctx.signal.aborted) throw err;
  }
}

/** @param {import('../state.js').AppRecord} app */
function startedMachineTarget(app) {
  const machine = Object.values(app.machines).find((candidate) => observedState(candidate) === 'started' && candidate.port);
  return machine ? { host: '127.0.0.1', port: /** @type {number} */ (machine.port) } : null;
}
