// Where a worker's commands start: in the command launcher's process (server.ts), a small child of
// this one, instead of here. Starting a process copies the starter's page tables: from a worker of
// 350 MiB that blocked its event loop for 10–35 ms per flyctl or git call (workflow tasks, heartbeats
// and every other activity waited), from the launcher about 1 ms. Commands behave the same either way
// (launch.ts); without a launcher (it could not start), they start here.
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchDirect, type CommandEvents, type CommandSpec } from './launch.js';
import type { LauncherEvent, StartCommand } from './protocol.js';

const here = fileURLToPath(import.meta.url);
// Built (dist/…/server.js) or from source (server.ts, run through tsx like the rest of the code).
const serverScript = path.join(path.dirname(here), `server${path.extname(here)}`);
const repositoryRoot = path.resolve(path.dirname(here), '..', '..');

let launcher: ChildProcess | undefined;
let isUnavailable = false;
let nextId = 1;
/** Commands under way in the launcher; a detached one outlives the launcher. */
const running = new Map<number, { events: CommandEvents; isDetached: boolean }>();

/** Starts the launcher now, while this process is still small (the worker calls it first thing). */
export function startCommandLauncher(): void {
  if (launcher || isUnavailable) return;
  if (!fs.existsSync(serverScript)) {
    isUnavailable = true;
    return;
  }
  const isSource = serverScript.endsWith('.ts');
  try {
    launcher = fork(serverScript, [], {
      cwd: repositoryRoot,
      execArgv: isSource ? ['--import', 'tsx'] : [],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
  } catch {
    isUnavailable = true;
    return;
  }
  const child = launcher;
  let hasAnswered = false;
  child.on('message', (event: LauncherEvent) => {
    hasAnswered = true;
    deliver(event);
  });
  // One that dies before answering anything cannot start here (no tsx, no fork): stop trying.
  const onGone = () => {
    if (!hasAnswered) isUnavailable = true;
    lose(child);
  };
  child.once('error', onGone);
  child.once('exit', onGone);
  idle(child);
}

/** The launcher's pid, while one runs (diagnostics and tests). */
export function commandLauncherPid(): number | undefined {
  return launcher?.connected ? launcher.pid : undefined;
}

/** Starts a command through the launcher (or here, without one); events as launchDirect gives them. */
export function launchCommand(spec: CommandSpec, events: CommandEvents): void {
  startCommandLauncher();
  const child = launcher;
  if (!child?.connected) {
    launchDirect(spec, events);
    return;
  }
  const id = nextId++;
  running.set(id, { events, isDetached: spec.detached !== undefined });
  child.channel?.ref();
  const message: StartCommand = { type: 'start', id, spec: { ...spec, args: [...spec.args] } };
  child.send(message, (err) => {
    if (err && running.delete(id)) events.onExit({ exitCode: undefined, signal: undefined, startError: `the command launcher did not take it: ${err.message}` });
  });
}

function deliver(event: LauncherEvent): void {
  const events = running.get(event.id)?.events;
  if (!events) return;
  if (event.type === 'started') events.onStart(event.pid);
  else if (event.type === 'output') events.onOutput(event.stream, event.chunk);
  else {
    running.delete(event.id);
    events.onExit(event.exit);
    if (launcher) idle(launcher);
  }
}

/**
 * The launcher is gone: its commands' output is lost, so they end here (their supervisors kill what
 * is left); a detached command runs on, and its exit is not known here (isLost). The next command
 * starts a new launcher.
 */
function lose(child: ChildProcess): void {
  if (launcher !== child) return;
  launcher = undefined;
  for (const [id, { events, isDetached }] of running) {
    running.delete(id);
    events.onExit(isDetached
      ? { exitCode: undefined, signal: undefined, isLost: true }
      : { exitCode: undefined, signal: undefined, startError: 'the command launcher process exited while the command ran' });
  }
}

/** An idle launcher does not keep this process alive. */
function idle(child: ChildProcess): void {
  if (running.size === 0) {
    child.channel?.unref();
    child.unref();
  }
}
