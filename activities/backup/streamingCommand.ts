// A child process whose stdin/stdout are streams (pg_dump's output, pg_restore's input, a fly proxy
// that runs until stopped). lib/process.ts collects output into strings, which a multi-gigabyte dump
// cannot afford; the rules are the same: argument arrays, an explicit environment, a timeout,
// cancellation that kills the whole process group, redacted stderr.
import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { redactText } from '../../lib/redact.js';

export interface StreamingCommandOptions {
  /** The complete environment of the child (no inheritance). */
  env: Record<string, string>;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Give the child a writable stdin (pg_restore reads the archive from it). */
  hasStdin?: boolean;
  killGraceMs?: number;
  /** Called with each stderr line, already redacted. */
  onStderrLine?: (line: string) => void;
}

export interface CommandOutcome {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The last 16 KiB of stderr, redacted. */
  stderrTail: string;
  isCancelled: boolean;
  isTimedOut: boolean;
}

export interface StreamingCommand {
  stdout: Readable;
  stdin: Writable | null;
  /** Resolves when the process has exited and its output is closed; rejects if it could not start. */
  finished: Promise<CommandOutcome>;
  /** SIGTERM to the process group, SIGKILL after the grace period. */
  stop(): void;
}

const STDERR_TAIL_CHARS = 16 * 1024;

export function startStreamingCommand(file: string, args: readonly string[], options: StreamingCommandOptions): StreamingCommand {
  const child = spawn(file, args, {
    env: options.env,
    // Its own process group, so a kill reaches anything it started.
    detached: true,
    stdio: [options.hasStdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  let stderrTail = '';
  let partialLine = '';
  let isCancelled = false;
  let isTimedOut = false;

  const killGroup = (signal: NodeJS.Signals) => {
    if (child.pid === undefined) return;
    try { process.kill(-child.pid, signal); } catch { /* already gone */ }
  };
  const stop = () => {
    killGroup('SIGTERM');
    setTimeout(() => killGroup('SIGKILL'), options.killGraceMs ?? 5000).unref();
  };
  const timeout = setTimeout(() => { isTimedOut = true; stop(); }, options.timeoutMs);
  const onAbort = () => { isCancelled = true; stop(); };
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener('abort', onAbort, { once: true });

  child.stderr!.on('data', (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    stderrTail = (stderrTail + text).slice(-STDERR_TAIL_CHARS);
    if (!options.onStderrLine) return;
    const lines = (partialLine + text).split('\n');
    partialLine = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) options.onStderrLine(redactText(line));
  });
  // A reader that stops early (pg_restore --list) closes its stdin: that is not our error.
  child.stdin?.on('error', () => undefined);

  const finished = new Promise<CommandOutcome>((resolve, reject) => {
    child.once('error', (err) => reject(new Error(`${file} could not be started: ${err.message}`)));
    child.once('close', (exitCode, signal) => resolve({ exitCode, signal, stderrTail: redactText(stderrTail), isCancelled, isTimedOut }));
  }).finally(() => {
    clearTimeout(timeout);
    options.signal?.removeEventListener('abort', onAbort);
    // Leave nothing behind: a command's stray children die with it.
    killGroup('SIGKILL');
  });
  // Callers may only look at `finished` after consuming stdout; never leave it unhandled meanwhile.
  finished.catch(() => undefined);

  return { stdout: child.stdout!, stdin: child.stdin, finished, stop };
}

export function isSuccessful(outcome: CommandOutcome): boolean {
  return outcome.exitCode === 0 && !outcome.isCancelled && !outcome.isTimedOut;
}
