// `fly proxy` for databases reachable only on Fly's private network: started for one activity,
// on a port the kernel picks, and stopped when the activity is done (reference/flyctl.md §6).
import { EventEmitter } from 'node:events';
import { transientFailure, TransientError } from '../../lib/errors.js';
import { flyAppName } from '../../lib/validate.js';
import { startStreamingCommand, type CommandOutcome } from './streamingCommand.js';

export interface FlyProxyOptions {
  flyctlPath: string;
  flyApp: string;
  remotePort: number;
  env: Record<string, string>;
  signal?: AbortSignal;
  readyTimeoutMs?: number;
}

export interface FlyProxy {
  localPort: number;
  stop(): Promise<void>;
}

const READY_LINE = /Proxying (?:localhost|127\.0\.0\.1|\[::1\]):(\d+) to remote/;
/** The proxy runs as long as its activity: the activity's own timeout bounds it. */
const PROXY_LIFETIME_MS = 24 * 3_600_000;

export async function startFlyProxy(options: FlyProxyOptions): Promise<FlyProxy> {
  // --watch-stdin: should the worker die without stopping it, the proxy exits when its stdin closes.
  const args = ['proxy', `0:${options.remotePort}`, '-a', flyAppName.parse(options.flyApp), '--watch-stdin'];
  // flyctl versions differ in which stream carries the ready line: both feed one line source.
  const output = new EventEmitter();
  const proxy = startStreamingCommand(options.flyctlPath, args, {
    env: options.env, timeoutMs: PROXY_LIFETIME_MS, signal: options.signal, hasStdin: true, killGraceMs: 2000,
    onStderrLine: (line) => output.emit('text', `${line}\n`),
  });
  // Always drained: a proxy blocked on a full stdout pipe would stall its connections.
  proxy.stdout.on('data', (chunk: Buffer) => output.emit('text', chunk.toString('utf8')));
  const stop = async () => {
    proxy.stdin?.end();
    proxy.stop();
    await proxy.finished.catch(() => undefined);
  };
  try {
    const localPort = await waitForReadyLine(output, proxy.finished, options.readyTimeoutMs ?? 30_000, options.flyApp);
    return { localPort, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function waitForReadyLine(output: EventEmitter, finished: Promise<CommandOutcome>, timeoutMs: number, flyApp: string): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  let onText: ((text: string) => void) | undefined;
  try {
    return await new Promise<number>((resolve, reject) => {
      let seen = '';
      onText = (text) => {
        seen = (seen + text).slice(-4096);
        const match = READY_LINE.exec(seen);
        if (match) resolve(Number(match[1]));
      };
      output.on('text', onText);
      timer = setTimeout(() => reject(transientFailure(TransientError.NetworkError, `fly proxy to ${flyApp} was not ready within ${timeoutMs} ms`)), timeoutMs);
      finished.then(
        (outcome) => reject(transientFailure(TransientError.NetworkError,
          `fly proxy to ${flyApp} exited (code ${outcome.exitCode}) before it was ready: ${outcome.stderrTail.trim().split('\n').at(-1) ?? ''}`)),
        reject,
      );
    });
  } finally {
    clearTimeout(timer);
    if (onText) output.off('text', onText);
  }
}
