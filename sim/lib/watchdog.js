// @ts-check
// Machine and router processes are detached (they outlive the flyctl call that started them, like
// real machines), so they check every second whether they are still wanted and exit when not:
// the state directory (its state file) is gone, the owner process (a test run, the sandbox) has died, or the state
// no longer names this very process.
import fs from 'node:fs';
import { Interrupted } from './errors.js';
import { isProcessAlive } from './processes.js';
import { readState, simPaths } from './state.js';
import { pollUntil } from './time.js';

const CHECK_INTERVAL_MS = 1000;

/**
 * True when nobody can want the directory's processes any more: its state is gone (the directory
 * removed; a stopping machine may write its log into it again, which must not bring it back), or its
 * owner died. The state file exists from the simulator's creation on (written by rename, never absent).
 * @param {string} dir
 */
export function isSimAbandoned(dir) {
  if (!fs.existsSync(simPaths(dir).stateFile)) return true;
  try {
    const { ownerPid } = readState(dir).settings;
    return Boolean(ownerPid) && !isProcessAlive(ownerPid);
  } catch {
    return false;
  }
}

/**
 * Waits ms (Infinity: until interrupted) in a flyctl call that blocks (a hang fault, proxy, logs),
 * but gives up like an interrupted call once the simulator is abandoned, so a test run that died
 * leaves no blocked flyctl behind.
 * @param {import('./context.js').CommandContext} ctx
 * @param {number} ms
 */
export async function waitUnlessAbandoned(ctx, ms) {
  const outcome = await pollUntil(() => (isSimAbandoned(ctx.dir) ? true : undefined), { timeoutMs: ms, intervalMs: CHECK_INTERVAL_MS, signal: ctx.signal });
  if ('value' in outcome) throw new Interrupted();
}

/**
 * @param {string} dir
 * @param {(state: import('./state.js').SimState) => boolean} isStillWanted
 * @param {() => void} shutDown
 */
export function startWatchdog(dir, isStillWanted, shutDown) {
  const timer = setInterval(() => {
    if (!isWanted()) {
      clearInterval(timer);
      shutDown();
    }
  }, CHECK_INTERVAL_MS);
  timer.unref();

  function isWanted() {
    if (isSimAbandoned(dir)) return false;
    try {
      return isStillWanted(readState(dir));
    } catch {
      // Unreadable for a moment: look again next time.
      return true;
    }
  }
}
