// Running an external command the way every activity needs it: an argument array (never a shell),
// a timeout, cancellation that kills the whole process group, live progress, redacted output. The
// command starts in the command launcher's process (lib/launcher/), not in this one.
import { launchCommand } from './launcher/client.js';
import type { CommandExit } from './launcher/launch.js';
import { cutLine, redactText } from './redact.js';

export interface RunOptions extends ProcessGroupOptions {
  cwd?: string;
  /** The complete environment of the child (no inheritance): build it with childProcessEnv(). */
  env: Record<string, string>;
  /** Called with each output line, already redacted. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  stdin?: string;
  maxStdoutBytes?: number;
}

export interface RunResult {
  exitCode: number | undefined;
  signal: string | undefined;
  /** Full stdout, redacted (up to maxStdoutBytes). */
  stdout: string;
  /** Last 64 KiB of stderr, redacted. */
  stderr: string;
  isTimedOut: boolean;
  isCancelled: boolean;
  durationMs: number;
}

const STDERR_TAIL_BYTES = 64 * 1024;

export async function runCommand(file: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const startedAt = Date.now();
  let stdout = '';
  let stderr = '';
  const maxStdout = options.maxStdoutBytes ?? 16 * 1024 * 1024;
  const lineReaders = {
    stdout: createLineReader((line) => options.onLine?.(line, 'stdout')),
    stderr: createLineReader((line) => options.onLine?.(line, 'stderr')),
  };
  const collect = (stream: 'stdout' | 'stderr', chunk: Uint8Array) => {
    const text = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('utf8');
    if (stream === 'stdout') {
      if (stdout.length < maxStdout) stdout += text;
    } else {
      stderr = (stderr + text).slice(-STDERR_TAIL_BYTES);
    }
    if (options.onLine) lineReaders[stream](text);
  };

  let supervisor: ProcessGroupSupervisor | undefined;
  const exit = await new Promise<CommandExit>((resolve) => {
    launchCommand({ file, args, cwd: options.cwd, env: options.env, stdin: options.stdin }, {
      onStart: (pid) => { supervisor = superviseProcessGroup(pid, options); },
      onOutput: collect,
      onExit: resolve,
    });
  });
  supervisor?.release();
  return {
    exitCode: exit.exitCode,
    signal: exit.signal,
    stdout: redactText(stdout),
    stderr: redactText(exit.startError ? `${stderr}${file} could not be started: ${exit.startError}` : stderr),
    isTimedOut: supervisor?.isTimedOut ?? false,
    isCancelled: supervisor?.isCancelled ?? false,
    durationMs: Date.now() - startedAt,
  };
}

export interface DetachedCommand {
  pid: number;
  /** How it ended; isLost when the launcher went away first (then only its pid tells whether it still runs). */
  exit: Promise<CommandExit>;
}

/**
 * Starts a command that outlives this process and the command launcher (a rollout across a worker
 * restart): in its own process group, its output appended to files, through the launcher like every
 * command. Resolves once it runs; rejects with the reason it could not start. Killing it (its group)
 * is the caller's business: nothing here does.
 */
export async function startDetachedCommand(file: string, args: readonly string[], options: { cwd?: string; env: Record<string, string>; stdoutFile: string; stderrFile: string }): Promise<DetachedCommand> {
  let resolveExit!: (exit: CommandExit) => void;
  const exit = new Promise<CommandExit>((resolve) => { resolveExit = resolve; });
  const pid = await new Promise<number>((resolve, reject) => {
    launchCommand({ file, args, cwd: options.cwd, env: options.env, detached: { stdoutFile: options.stdoutFile, stderrFile: options.stderrFile } }, {
      onStart: resolve,
      onOutput: () => undefined,
      onExit: (ended) => {
        resolveExit(ended);
        // Before it started: it never ran, or (launcher lost) nobody can say.
        reject(new Error(`${file} could not be started: ${ended.startError ?? 'the command launcher process exited before it said whether it started'}`));
      },
    });
  });
  return { pid, exit };
}

export interface ProcessGroupOptions {
  timeoutMs: number;
  /** Aborting kills the process group (SIGTERM, then SIGKILL after killGraceMs). */
  signal?: AbortSignal;
  /** Between SIGTERM and SIGKILL; default 5 s. */
  killGraceMs?: number;
}

export interface ProcessGroupSupervisor {
  /** SIGTERM to the whole group now, SIGKILL after the grace period. */
  terminate(): void;
  readonly isTimedOut: boolean;
  readonly isCancelled: boolean;
  /** Call once the leader has exited: stops the timer and the abort listener, kills stray children. */
  release(): void;
}

/**
 * Timeout, cancellation and clean-up for a child started in its own process group (`detached: true`),
 * so that a kill reaches grandchildren too (npm → node → tests, flyctl → builders, pg_dump's workers).
 */
export function superviseProcessGroup(pid: number | undefined, options: ProcessGroupOptions): ProcessGroupSupervisor {
  let isTimedOut = false;
  let isCancelled = false;
  const killGroup = (signal: NodeJS.Signals) => {
    if (pid === undefined) return;
    try { process.kill(-pid, signal); } catch { /* already gone */ }
  };
  const terminate = () => {
    killGroup('SIGTERM');
    setTimeout(() => killGroup('SIGKILL'), options.killGraceMs ?? 5000).unref();
  };
  const timeout = setTimeout(() => { isTimedOut = true; terminate(); }, options.timeoutMs);
  const onAbort = () => { isCancelled = true; terminate(); };
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  return {
    terminate,
    get isTimedOut() { return isTimedOut; },
    get isCancelled() { return isCancelled; },
    release() {
      clearTimeout(timeout);
      options.signal?.removeEventListener('abort', onAbort);
      // Leave nothing behind: a command's stray children die with it.
      killGroup('SIGKILL');
    },
  };
}

/** Progress lines longer than this are cut: a line is shown, not parsed. */
const MAX_PROGRESS_LINE_CHARS = 4096;

/**
 * Feeds text in chunks; calls onLine with each complete, non-blank line, redacted and cut to a
 * readable length. A line that never ends (a 16 MiB blob without a newline) is not accumulated.
 */
export function createLineReader(onLine: (line: string) => void): (text: string) => void {
  let partial = '';
  let isDiscarding = false;
  return (text) => {
    const lines = text.split('\n');
    const last = lines.pop() ?? '';
    for (const piece of lines) {
      const line = isDiscarding ? partial : partial + piece;
      if (line.trim()) onLine(redactLine(line));
      partial = '';
      isDiscarding = false;
    }
    if (isDiscarding) return;
    partial += last;
    // Keep a margin beyond the cut, so the cut line is redacted with the context of its tokens.
    if (partial.length > MAX_PROGRESS_LINE_CHARS * 2) isDiscarding = true;
  };
}

function redactLine(line: string): string {
  const redacted = redactText(line);
  return redacted.length > MAX_PROGRESS_LINE_CHARS ? cutLine(redacted, MAX_PROGRESS_LINE_CHARS) : redacted;
}

/** The last non-empty line of some output, for progress and error messages. */
export function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.at(-1) ?? '';
}
