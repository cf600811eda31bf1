// @ts-check
// What every command handler receives: parsed flags and arguments, the state directory, output
// streams, the abort signal raised by SIGINT/SIGTERM, and extra fields for the call log.
import { readState, updateState } from './state.js';

/**
 * @typedef {{
 *   command: string, flags: Record<string, any>, args: string[], given: Set<string>,
 *   env: NodeJS.ProcessEnv, cwd: string, dir: string, signal: AbortSignal, isJson: boolean,
 *   out: (text: string) => void, err: (text: string) => void,
 *   callRecord: Record<string, unknown>,
 *   readState: () => import('./state.js').SimState,
 *   updateState: <T>(mutate: (state: import('./state.js').SimState) => T) => Promise<T>
 * }} CommandContext
 */

/**
 * @param {{ command: string, parsed: import('./args.js').ParsedFlags, env: NodeJS.ProcessEnv, cwd: string, dir: string, signal: AbortSignal }} options
 * @returns {CommandContext}
 */
export function createContext({ command, parsed, env, cwd, dir, signal }) {
  return {
    command,
    flags: parsed.flags,
    args: parsed.args,
    given: parsed.given,
    env,
    cwd,
    dir,
    signal,
    isJson: Boolean(parsed.flags.json) || isTruthy(env.FLY_JSON),
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    callRecord: {},
    readState: () => readState(dir),
    updateState: (mutate) => updateState(dir, mutate),
  };
}

/** @param {string | undefined} value */
function isTruthy(value) {
  return value !== undefined && ['1', 'true', 'yes', 'on'].includes(value.toLowerCase());
}
