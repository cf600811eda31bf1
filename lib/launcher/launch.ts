// Starting one command in its own process group, with its output as chunks and its end as one event.
// The command launcher's process (server.ts) starts commands with it, and so does a process without a
// launcher (client.ts's fallback): both sides behave the same.
import { spawn } from 'node:child_process';
import fs from 'node:fs';

export interface CommandSpec {
  file: string;
  args: readonly string[];
  cwd?: string;
  /** The complete environment of the child (no inheritance). */
  env: Record<string, string>;
  /** Written to the child's stdin, which is then closed; without it, stdin is /dev/null. */
  stdin?: string;
  /**
   * A command that must outlive whoever started it (a rollout that goes on while a worker restarts):
   * its output is appended to these files instead of reported, and neither the launcher's exit nor
   * its caller's ends it. Its start and its exit are reported as any command's, and while it runs it
   * keeps its caller's process alive as any command does (a worker that shuts down waits for it).
   */
  detached?: { stdoutFile: string; stderrFile: string };
}

/** How a command ended: exit code or signal, or why it could not start (then both are undefined). */
export interface CommandExit {
  exitCode: number | undefined;
  signal: string | undefined;
  startError?: string;
  /**
   * The launcher went away while a detached command ran (or before it said whether the command
   * started): how it ends is not known here, and it may still run (its pid says; both codes are undefined).
   */
  isLost?: boolean;
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
  // A detached command writes into files: plain descriptors, not pipes, so it keeps writing when this process is gone.
  const files = spec.detached;
  const descriptors: number[] = [];
  try {
    if (files) descriptors.push(fs.openSync(files.stdoutFile, 'a'), fs.openSync(files.stderrFile, 'a'));
    const child = spawn(spec.file, spec.args, {
      cwd: spec.cwd,
      env: spec.env,
      // Its own process group, so a kill reaches grandchildren too (npm → node → tests, flyctl → builders).
      detached: true,
      stdio: files ? ['ignore', descriptors[0]!, descriptors[1]!] : [spec.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    child.once('error', (err) => end({ exitCode: undefined, signal: undefined, startError: err.message }));
    if (child.pid === undefined) return;
    events.onStart(child.pid);
    if (files) {
      child.once('exit', (code, signal) => end({ exitCode: code ?? undefined, signal: signal ?? undefined }));
      return;
    }
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
  } finally {
    for (const fd of descriptors) fs.closeSync(fd);
  }
}
