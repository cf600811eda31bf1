// Starting one command in its own process group, with its output as chunks and its end as one event.
// The command launcher's process (server.ts) starts commands with it, and so does a process without a
// launcher (client.ts's fallback): both sides behave the same.
import { spawn } from 'node:child_process';

export interface CommandSpec {
  file: string;
  args: readonly string[];
  cwd?: string;
  /** The complete environment of the child (no inheritance). */
  env: Record<string, string>;
  /** Written to the child's stdin, which is then closed; without it, stdin is /dev/null. */
  stdin?: string;
}

/** How a command ended: exit code or signal, or why it could not start (then both are undefined). */
export interface CommandExit {
  exitCode: number | undefined;
  signal: string | undefined;
  startError?: string;
}

export interface CommandEvents {
  /** The child exists (not called when it could not start). */
  onStart(pid: number): void;
  onOutput(stream: 'stdout' | 'stderr', chunk: Uint8Array): void;
  /** Once, after all output. */
  onExit(exit: CommandExit): void;
}

export function launchDirect(spec: CommandSpec, events: CommandEvents): void {
  let isEnded = false;
  const end = (exit: CommandExit) => {
    if (isEnded) return;
    isEnded = true;
    events.onExit(exit);
  };
  try {
    const child = spawn(spec.file, spec.args, {
      cwd: spec.cwd,
      env: spec.env,
      // Its own process group, so a kill reaches grandchildren too (npm → node → tests, flyctl → builders).
      detached: true,
      stdio: [spec.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    child.once('error', (err) => end({ exitCode: undefined, signal: undefined, startError: err.message }));
    if (child.pid === undefined) return;
    events.onStart(child.pid);
    child.stdout!.on('data', (chunk: Buffer) => events.onOutput('stdout', chunk));
    child.stderr!.on('data', (chunk: Buffer) => events.onOutput('stderr', chunk));
    if (child.stdin) {
      // A command that exits without reading its input closes the pipe: not an error of ours.
      child.stdin.on('error', () => undefined);
      child.stdin.end(spec.stdin);
    }
    child.once('close', (code, signal) => end({ exitCode: code ?? undefined, signal: signal ?? undefined }));
  } catch (err) {
    end({ exitCode: undefined, signal: undefined, startError: (err as Error).message });
  }
}
