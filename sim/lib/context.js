// @ts-check
/* global AbortSignal */
// What every command handler receives: parsed flags and arguments, the state directory, the
// caller's environment, working directory, pid, output streams and stdin, the abort signal raised
// by SIGINT/SIGTERM, and extra fields for the call log. A call runs in its own node process
// (sim/bin/flyctl) or in the simulator's server for a client process (sim/lib/flyctl-server.js):
// commands take all of this from ctx, never from `process`.
// ctx.readState() is the process's shared, frozen snapshot of the state (parsed again only when the
// file changed): read from it, change the state only inside ctx.updateState.
import { readStateSnapshot, updateState } from './state.js';

/**
 * @typedef {{
 *   command: string, flags: Record<string, any>, args: string[], given: Set<string>,
 *   env: NodeJS.ProcessEnv, cwd: string, dir: string, signal: AbortSignal, isJson: boolean,
 *   pid: number, stdin: NodeJS.ReadableStream,
 *   out: (text: string) => void, err: (text: string) => void,
 *   callRecord: Record<string, unknown>,
 *   readState: () => import('./state.js').SimState,
 *   updateState: <T>(mutate: (state: import('./state.js').SimState) => T) => Promise<T>
 * }} CommandContext
 */

/**
 * The caller's side of a call: who runs it and where its output goes.
 * @typedef {{
 *   env: NodeJS.ProcessEnv, cwd: string, pid: number, stdin: NodeJS.ReadableStream,
 *   out: (text: string) => void, err: (text: string) => void,
 *   gone?: AbortSignal
 * }} CallIo
 * `gone` aborts when the caller died without an answer (a SIGKILLed client): from then on the
 * command behaves like a killed process, it prints nothing and changes no state (updateState
 * never settles), and its waits end (the signal aborts).
 */

/** @returns {CallIo} the io of a flyctl running as this node process */
export function processIo() {
  return {
    env: process.env,
    cwd: process.cwd(),
    pid: process.pid,
    // Only a call that reads stdin (proxy --watch-stdin) opens it.
    get stdin() { return process.stdin; },
    out: (text) => { process.stdout.write(text); },
    err: (text) => { process.stderr.write(text); },
  };
}

/**
 * @param {{ command: string, parsed: import('./args.js').ParsedFlags, dir: string, signal: AbortSignal, io: CallIo }} options
 * @returns {CommandContext}
 */
export function createContext({ command, parsed, dir, signal, io }) {
  const { gone } = io;
  return {
    command,
    flags: parsed.flags,
    args: parsed.args,
    given: parsed.given,
    env: io.env,
    cwd: io.cwd,
    dir,
    signal: gone ? AbortSignal.any([signal, gone]) : signal,
    isJson: Boolean(parsed.flags.json) || isTruthy(io.env.FLY_JSON),
    pid: io.pid,
    get stdin() { return io.stdin; },
    out: (text) => { if (!gone?.aborted) io.out(text); },
    err: (text) => { if (!gone?.aborted) io.err(text); },
    callRecord: {},
    readState: () => readStateSnapshot(dir),
    updateState: (mutate) => {
      if (!gone) return updateState(dir, mutate);
      if (gone.aborted) return neverSettles();
      // The lock may be waited for: the caller can die meanwhile, then the change is not made.
      return updateState(dir, (state) => {
        if (gone.aborted) throw CALLER_GONE;
        return mutate(state);
      }).catch((err) => (err === CALLER_GONE ? neverSettles() : Promise.reject(err)));
    },
  };
}

const CALLER_GONE = Symbol('the caller of this flyctl call is gone');

/** @returns {Promise<never>} */
function neverSettles() {
  return new Promise(() => {});
}

/** @param {string | undefined} value */
function isTruthy(value) {
  return value !== undefined && ['1', 'true', 'yes', 'on'].includes(value.toLowerCase());
}
