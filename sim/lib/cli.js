// @ts-check
// Entry point of the simulated flyctl: finds the command, parses its flags, checks the token,
// acts out injected faults, runs the command, prints errors the way flyctl does and returns
// flyctl's exit code. Every call is appended to the call log, except one whose caller died.
import path from 'node:path';
import { parseFlags } from './args.js';
import { requireAuthentication } from './auth.js';
import { appendCallRecord, redactArgv } from './call-log.js';
import { findCommand, GLOBAL_FLAGS } from './command-table.js';
import { createContext } from './context.js';
import { EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, FlyError, isInterrupted, SilentCancel } from './errors.js';
import { actOutFault, takeFault } from './faults.js';
import { requireSimDir } from './state.js';

const COMMANDS_WITHOUT_STATE = new Set(['version', 'help']);

/**
 * Runs one flyctl call for the caller described by io.
 * @param {string[]} argv
 * @param {AbortSignal} interrupted aborted on the caller's SIGINT/SIGTERM
 * @param {import('./context.js').CallIo} io
 * @returns {Promise<number>} the exit code
 */
export async function runCli(argv, interrupted, io) {
  const startedAt = Date.now();
  const simDir = io.env.FLY_SIM_DIR ? path.resolve(io.cwd, io.env.FLY_SIM_DIR) : null;
  let command = '';
  /** @type {Record<string, unknown>} */
  let callRecord = {};
  let exitCode = EXIT_OK;
  /** @type {(text: string) => void} */
  let printError = (text) => { if (!io.gone?.aborted) io.err(text); };
  try {
    const found = findCommand(argv);
    command = found.node.sameAs ?? found.path.join(' ');
    const parsed = parseFlags(found.rest, [...GLOBAL_FLAGS, ...(found.node.flags ?? [])]);
    const isHelp = parsed.flags.help || command.endsWith('help');
    const dir = COMMANDS_WITHOUT_STATE.has(command) || isHelp ? simDir ?? '' : requireSimDir(io.env, io.cwd);
    const ctx = createContext({ command, parsed, dir, signal: interrupted, io });
    callRecord = ctx.callRecord;
    printError = ctx.err;
    const handler = isHelp ? await import('./commands/help.js') : await /** @type {NonNullable<typeof found.node.load>} */ (found.node.load)();
    if (found.node.needsAuth && !isHelp) requireAuthentication(ctx);
    // flyctl reads LOG_LEVEL too, and writes its log lines to stdout (terminal/logging.go).
    const isDebug = ctx.env.LOG_LEVEL === 'debug';
    if (isDebug) ctx.out(`DEBUG Loaded flyctl config from ${ctx.env.HOME ?? '~'}/.fly/config.yml\n`);
    const fault = dir && !isHelp ? await takeFault(ctx) : undefined;
    if (fault) await actOutFault(ctx, fault, String(ctx.flags.app || ctx.env.FLY_APP || 'app'));
    await handler.run(ctx);
    if (isDebug) ctx.out('DEBUG Metrics flush: sent 2 metrics\n');
    if (interrupted.aborted) exitCode = EXIT_INTERRUPTED;
  } catch (err) {
    exitCode = reportError(err, interrupted, printError, Boolean(io.env.FLY_SIM_DEBUG));
  }
  // A killed flyctl leaves no record.
  if (simDir && command && !io.gone?.aborted) {
    appendCallRecord(simDir, {
      at: new Date(startedAt).toISOString(),
      command,
      argv: redactArgv(argv, command),
      exitCode,
      durationMs: Date.now() - startedAt,
      pid: io.pid,
      ...callRecord,
    });
  }
  return exitCode;
}

/**
 * Prints the error like flyctl's printError and returns the exit code.
 * @param {unknown} err
 * @param {AbortSignal} signal
 * @param {(text: string) => void} printError
 * @param {boolean} withStack
 */
function reportError(err, signal, printError, withStack) {
  if (isInterrupted(err) || signal.aborted) return EXIT_INTERRUPTED;
  // A rolling update's joined errors where context.Canceled wins: exit 127, nothing printed.
  if (err instanceof SilentCancel) return EXIT_INTERRUPTED;
  if (err instanceof FlyError) {
    printError(`Error: ${err.message}\n`);
    if (err.description && err.description !== err.message) printError(`${err.description}\n\n`);
    if (err.suggestion) printError(`${err.suggestion}\n\n`);
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  printError(`Error: ${message}\n`);
  if (withStack && err instanceof Error) printError(`${err.stack}\n`);
  return EXIT_ERROR;
}
