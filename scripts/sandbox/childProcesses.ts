// The sandbox's long-running children (worker, API): each in its own process group, so stopping one
// reaches everything it started, and a Ctrl-C in the terminal reaches only the supervisor, which
// stops them in order. Output goes to a log file; warnings and errors are shown in the terminal.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

export interface ManagedChild {
  readonly name: string;
  readonly pid: number;
  /** Resolves with the exit code (or the signal's name) when the process has exited. */
  readonly exited: Promise<number | string>;
  /** SIGTERM to the group, SIGKILL after graceMs; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL to the group at once (the supervisor is exiting without waiting). */
  killNow(): void;
  /** Resolves when a line matches; rejects, with the last lines of output, if the child exits first. */
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<void>;
}

export interface ManagedChildOptions {
  env: Record<string, string>;
  cwd: string;
  logFile: string;
  /** Called with each line worth showing (pino warnings and errors, non-JSON lines). */
  onNotableLine?: (line: string) => void;
}

const PINO_WARN = 40;
/**
 * Other output worth showing: the Temporal SDK's errors (its warnings are expected failures, such as
 * the bad deploy's, which Slack already reports) and an unindented error or crash line.
 */
const NOTABLE_TEXT = /\[ERROR\]|^(\w*Error\b|Uncaught|FATAL)/;

/** A pino line at warn or above, or another error line, as one readable line; undefined for the rest. */
export function notableLine(line: string): string | undefined {
  if (!line.trim()) return undefined;
  let record: { level?: number; msg?: string; err?: { message?: string } };
  try {
    record = JSON.parse(line);
  } catch {
    return NOTABLE_TEXT.test(line) ? line : undefined;
  }
  if (typeof record.level !== 'number' || record.level < PINO_WARN) return undefined;
  return [record.msg, record.err?.message].filter(Boolean).join(': ');
}

export function startManagedChild(name: string, file: string, args: string[], options: ManagedChildOptions): ManagedChild {
  fs.mkdirSync(path.dirname(options.logFile), { recursive: true });
  const log = fs.createWriteStream(options.logFile, { flags: 'a' });
  const child = spawn(file, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  if (child.pid === undefined) throw new Error(`could not start the ${name}`);
  const pid = child.pid;
  const tail: string[] = [];
  const lineListeners = new Set<(line: string) => void>();
  for (const stream of [child.stdout, child.stderr]) {
    readline.createInterface({ input: stream }).on('line', (line) => {
      log.write(`${line}\n`);
      tail.push(line);
      if (tail.length > 20) tail.shift();
      const notable = notableLine(line);
      if (notable) options.onNotableLine?.(notable);
      for (const listener of lineListeners) listener(line);
    });
  }
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      log.end();
      resolve(code ?? signal ?? 'unknown');
    });
  });
  const signalGroup = (signal: NodeJS.Signals) => {
    try { process.kill(-pid, signal); } catch { /* the group is gone */ }
  };
  let isExited = false;
  void exited.then(() => { isExited = true; });
  return {
    name, pid, exited,
    async stop(graceMs = 10_000) {
      if (isExited) return;
      signalGroup('SIGTERM');
      const timer = setTimeout(() => signalGroup('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      // Anything the child started in its group and left behind.
      signalGroup('SIGKILL');
    },
    killNow: () => signalGroup('SIGKILL'),
    waitForOutput(pattern, timeoutMs) {
      return new Promise<void>((resolve, reject) => {
        const finish = (error?: Error) => {
          lineListeners.delete(listener);
          clearTimeout(timer);
          if (error) reject(error); else resolve();
        };
        const listener = (line: string) => { if (pattern.test(line)) finish(); };
        lineListeners.add(listener);
        const timer = setTimeout(() => finish(new Error(`the ${name} was not ready within ${Math.round(timeoutMs / 1000)} s (see ${options.logFile})`)), timeoutMs);
        void exited.then((code) => finish(new Error(`the ${name} exited (${code}) while starting:\n${tail.join('\n')}`)));
      });
    },
  };
}
