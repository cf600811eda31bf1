// @ts-check
/* global AbortController */
// The simulator's flyctl server: one long-lived node process per state directory (started by
// createSim in sim/testing.js) that runs each flyctl call the client (sim/client/main.go) forwards
// over a unix socket, in-process, with the caller's argv, environment, working directory, pid,
// stdin and signals, and streams its stdout and stderr back apart. A call costs a connection
// instead of a node process. Like the simulator's other processes it carries the directory's
// marker (teardown stops it) and exits by itself once the directory is gone or its owner died.
// Wire format: see sim/client/main.go.
import fs from 'node:fs';
import net from 'node:net';
import { PassThrough } from 'node:stream';
import { runCli } from './cli.js';
import { startWatchdog } from './watchdog.js';

const options = Object.fromEntries(process.argv.slice(2).map((arg) => arg.replace(/^--/, '').split(/=(.*)/s, 2)));
const dir = options['fly-sim-dir'];
const socketPath = options.socket;

// A command's bug must fail that call, not every call: note it in the server's log and go on.
process.on('uncaughtException', (err) => console.error('flyctl server: uncaught', err));
process.on('unhandledRejection', (err) => console.error('flyctl server: unhandled rejection', err));

const server = net.createServer(serveCall);
fs.rmSync(socketPath, { force: true });
server.listen(socketPath, () => console.log(`flyctl server for ${dir} on ${socketPath}`));
server.on('error', (err) => {
  console.error('flyctl server:', err);
  process.exit(1);
});

/** Calls running now: stopping the server interrupts them (exit 127), as an abandoned simulator does. */
const activeCalls = new Set();
// How long interrupted calls get to answer before the server exits under them.
const STOP_GRACE_MS = 1000;

let isStopping = false;
const stop = () => {
  if (isStopping) return;
  isStopping = true;
  server.close();
  fs.rmSync(socketPath, { force: true });
  const answered = [...activeCalls].map((call) => call.interrupt());
  const exit = () => process.exit(0);
  void Promise.all(answered).then(exit);
  setTimeout(exit, STOP_GRACE_MS).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
startWatchdog(dir, () => true, stop);

/** @param {net.Socket} socket */
function serveCall(socket) {
  const interrupted = new AbortController();
  const gone = new AbortController();
  const stdin = new PassThrough();
  let hasAnswered = false;
  let hasStarted = false;
  let buffered = Buffer.alloc(0);

  /**
   * @param {string} kind
   * @param {Buffer | string} payload
   */
  const send = (kind, payload) => {
    if (gone.signal.aborted || socket.destroyed) return;
    const body = Buffer.from(payload);
    const header = Buffer.alloc(5);
    header.write(kind, 0, 'latin1');
    header.writeUInt32BE(body.length, 1);
    socket.write(Buffer.concat([header, body]));
  };

  socket.on('data', (chunk) => {
    buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
    while (buffered.length >= 5) {
      const length = buffered.readUInt32BE(1);
      if (buffered.length < 5 + length) break;
      const kind = String.fromCharCode(buffered[0]);
      const payload = buffered.subarray(5, 5 + length);
      buffered = buffered.subarray(5 + length);
      if (kind === 'H' && !hasStarted) {
        hasStarted = true;
        void start(JSON.parse(payload.toString('utf8')));
      } else if (kind === 'I') {
        stdin.write(Buffer.from(payload));
      } else if (kind === 'E') {
        stdin.end();
      } else if (kind === 'S') {
        interrupted.abort();
      }
    }
  });
  // The client closed before the answer: it was killed (or gave up after an interrupt's grace).
  // The call then behaves like a killed process: no output, no state change, no call record.
  socket.on('close', () => {
    if (!hasAnswered) gone.abort();
    stdin.destroy();
  });
  socket.on('error', () => {});

  /** @param {{ argv: string[], env: string[], cwd: string, pid: number }} call */
  async function start(call) {
    let onDone = () => {};
    const active = { interrupt: () => { interrupted.abort(); return new Promise((resolve) => { onDone = () => resolve(undefined); }); } };
    activeCalls.add(active);
    try {
      await runCall(call);
    } finally {
      activeCalls.delete(active);
      onDone();
    }
  }

  /** @param {{ argv: string[], env: string[], cwd: string, pid: number }} call */
  async function runCall(call) {
    /** @type {NodeJS.ProcessEnv} */
    const env = {};
    for (const entry of call.env) {
      const at = entry.indexOf('=');
      if (at > 0) env[entry.slice(0, at)] = entry.slice(at + 1);
    }
    const exitCode = await runCli(call.argv, interrupted.signal, {
      env,
      cwd: call.cwd,
      pid: call.pid,
      stdin,
      out: (text) => send('O', text),
      err: (text) => send('R', text),
      gone: gone.signal,
    });
    if (gone.signal.aborted) return;
    hasAnswered = true;
    send('X', String(exitCode));
    socket.end();
  }
}
