// A child process whose stdin/stdout are streams (pg_dump's output, pg_restore's input, a fly proxy
// that runs until stopped). lib/process.ts collects output into strings, which a multi-gigabyte dump
// cannot afford; the rules are the same, and so is the supervision (process.ts): argument
// arrays, an explicit environment, a timeout, cancellation that kills the whole process group,
// redacted stderr.
import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { createLineReader, superviseProcessGroup, type ProcessGroupOptions } from './process.js';
import { redactText } from './redact.js';

export interface StreamingCommandOptions extends ProcessGroupOptions {
  /** The complete environment of the child (no inheritance). */
  env: Record<string, string>;
  /** Give the child a writable stdin (pg_restore reads the archive from it). */
  hasStdin?: boolean;
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
  const supervisor = superviseProcessGroup(child.pid, options);
  const toLines = createLineReader((line) => options.onStderrLine?.(line));

  child.stderr!.on('data', (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    stderrTail = (stderrTail + text).slice(-STDERR_TAIL_CHARS);
    if (options.onStderrLine) toLines(text);
  });
  // A reader that stops early (pg_restore --list) closes its stdin: that is not our error.
  child.stdin?.on('error', () => undefined);

  const finished = new Promise<CommandOutcome>((resolve, reject) => {
    child.once('error', (err) => reject(new Error(`${file} could not be started: ${err.message}`)));
    child.once('close', (exitCode, signal) => resolve({
      exitCode, signal, stderrTail: redactText(stderrTail), isCancelled: supervisor.isCancelled, isTimedOut: supervisor.isTimedOut,
    }));
  }).finally(() => supervisor.release());
  // Callers may only look at `finished` after consuming stdout; never leave it unhandled meanwhile.
  finished.catch(() => undefined);

  return { stdout: child.stdout!, stdin: child.stdin, finished, stop: supervisor.terminate };
}

export function isSuccessful(outcome: CommandOutcome): boolean {
  return outcome.exitCode === 0 && !outcome.isCancelled && !outcome.isTimedOut;
}
