// @ts-check
// Entry point of the simulated flyctl: finds the command, parses its flags, checks the token,
// acts out injected faults, runs the command, prints errors the way flyctl does and exits with
// flyctl's exit codes. Every call is appended to the call log.
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
 * @param {string[]} argv
 * @param {AbortSignal} interrupted from installInterruptHandlers
 */
export async function runCli(argv, interrupted) {
  const startedAt = Date.now();
  const simDir = process.env.FLY_SIM_DIR ? path.resolve(process.env.FLY_SIM_DIR) : null;
  let command = '';
  /** @type {Record<string, unknown>} */
  let callRecord = {};
  let exitCode = EXIT_OK;
  try {
    const found = findCommand(argv);
    command = found.node.sameAs ?? found.path.join(' ');
    const parsed = parseFlags(found.rest, [...GLOBAL_FLAGS, ...(found.node.flags ?? [])]);
    const isHelp = parsed.flags.help || command.endsWith('help');
    const dir = COMMANDS_WITHOUT_STATE.has(command) || isHelp ? simDir ?? '' : requireSimDir(process.env);
    const ctx = createContext({ command, parsed, env: process.env, cwd: process.cwd(), dir, signal: interrupted });
    callRecord = ctx.callRecord;
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
    exitCode = reportError(err, interrupted);
  }
  if (simDir && command) {
    appendCallRecord(simDir, {
      at: new Date(startedAt).toISOString(),
      command,
      argv: redactArgv(argv, command),
      exitCode,
      durationMs: Date.now() - startedAt,
      pid: process.pid,
      ...callRecord,
    });
  }
  process.stdout.write('', () => process.stderr.write('', () => process.exit(exitCode)));
}

/**
 * Prints the error like flyctl's printError and returns the exit code.
 * @param {unknown} err
 * @param {AbortSignal} signal
 */
function reportError(err, signal) {
  if (isInterrupted(err) || signal.aborted) return EXIT_INTERRUPTED;
  // A rolling update's joined errors where context.Canceled wins: exit 127, nothing printed.
  if (err instanceof SilentCancel) return EXIT_INTERRUPTED;
  if (err instanceof FlyError) {
    process.stderr.write(`Error: ${err.message}\n`);
    if (err.description && err.description !== err.message) process.stderr.write(`${err.description}\n\n`);
    if (err.suggestion) process.stderr.write(`${err.suggestion}\n\n`);
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`Error: ${message}\n`);
  if (process.env.FLY_SIM_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  return EXIT_ERROR;
}
