// @ts-check
// Injected faults: the next N calls of a command (or every call, or every command) fail with a
// transient platform error, fail permanently with a given text, or hang. Tests set them through
// sim/testing.js; real flyctl has no flag for this, so neither does the simulator.
import { randomBytes } from 'node:crypto';
import { FlyError } from './errors.js';
import { newUlid } from './ids.js';
import { waitUnlessAbandoned } from './watchdog.js';

/**
 * @typedef {{ kind: 'rate-limited' | 'connection-reset' | 'fail' | 'hang', times?: number | null, message?: string, hangMs?: number | null, exitCode?: number }} FaultSpec
 */

/**
 * Adds a fault for a command ("deploy", "secrets set", "machine list", or "*" for any).
 * @param {import('./state.js').SimState} state
 * @param {string} command
 * @param {FaultSpec} spec
 */
export function addFault(state, command, spec) {
  const isTransient = spec.kind === 'rate-limited' || spec.kind === 'connection-reset';
  state.faults.push({
    id: randomBytes(4).toString('hex'),
    command,
    kind: spec.kind,
    remaining: spec.times === undefined ? (isTransient ? 1 : null) : spec.times,
    message: spec.message ?? '',
    hangMs: spec.hangMs ?? null,
    exitCode: spec.exitCode ?? 1,
  });
}

/**
 * Takes the first fault matching the command, counting it down.
 * @param {import('./context.js').CommandContext} ctx
 * @returns {Promise<import('./state.js').FaultRecord | undefined>}
 */
export async function takeFault(ctx) {
  const matches = (/** @type {import('./state.js').FaultRecord} */ fault) => fault.command === ctx.command || fault.command === '*';
  // Most calls have no fault to take: skip the lock for them.
  if (!ctx.readState().faults.some(matches)) return undefined;
  return ctx.updateState((state) => {
    const fault = state.faults.find(matches);
    if (!fault) return undefined;
    if (fault.remaining !== null) fault.remaining -= 1;
    if (fault.remaining === 0) state.faults = state.faults.filter((other) => other !== fault);
    return fault;
  });
}

/**
 * Acts the fault out: throws for failures, waits for hangs (then the command runs normally).
 * @param {import('./context.js').CommandContext} ctx
 * @param {import('./state.js').FaultRecord} fault
 * @param {string} appName for error texts
 */
export async function actOutFault(ctx, fault, appName) {
  ctx.callRecord.fault = fault.kind;
  switch (fault.kind) {
    case 'hang':
      await waitUnlessAbandoned(ctx, fault.hangMs ?? Infinity);
      return;
    case 'rate-limited':
      throw new FlyError(fault.message || `failed to list VMs: 429 Too Many Requests (Request ID: ${newUlid()}-iad)`);
    case 'connection-reset':
      throw new FlyError(fault.message || `failed to list VMs: Get "https://api.machines.dev/v1/apps/${appName}/machines": read tcp 172.16.5.2:41234->77.83.143.220:443: read: connection reset by peer`);
    default:
      throw new FlyError(fault.message || 'simulated failure', { exitCode: fault.exitCode });
  }
}
