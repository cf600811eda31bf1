// @ts-check
// Machine and router processes are detached (they outlive the flyctl call that started them, like
// real machines), so they check every second whether they are still wanted and exit when not:
// the state directory (its state file) is gone, the owner process (a test run, the sandbox) has died, or the state
// no longer names this very process. They read the small index of wanted processes each write of the
// state leaves (state.js), not the state: a few hundred of them each parsing the whole state every
// second kept the machine busy with 100 apps.
import fs from 'node:fs';
import { Interrupted } from './errors.js';
import { isProcessAlive } from './processes.js';
import { readWantedProcesses, simPaths } from './state.js';
import { pollUntil } from './time.js';

const CHECK_INTERVAL_MS = 1000;

/**
 * The index of wanted processes, or null when nobody can want the directory's processes any more:
 * its state is gone (the directory removed; a stopping machine may write its log into it again, which
 * must not bring it back), or its owner died. The state file exists from the simulator's creation on
 * (written by rename, never absent).
 * @param {string} dir
 * @returns {import('./state.js').WantedProcesses | null | undefined} undefined: unreadable for a moment
 */
function wantedUnlessAbandoned(dir) {
  if (!fs.existsSync(simPaths(dir).stateFile)) return null;
  try {
    const wanted = readWantedProcesses(dir);
    return wanted.ownerPid && !isProcessAlive(wanted.ownerPid) ? null : wanted;
  } catch {
    return undefined;
  }
}

/**
 * True when nobody can want the directory's processes any more (see wantedUnlessAbandoned).
 * @param {string} dir
 */
export function isSimAbandoned(dir) {
  return wantedUnlessAbandoned(dir) === null;
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
 * @param {(wanted: import('./state.js').WantedProcesses) => boolean} isStillWanted
 * @param {() => void} shutDown
 */
export function startWatchdog(dir, isStillWanted, shutDown) {
  const timer = setInterval(() => {
    const wanted = wantedUnlessAbandoned(dir);
    // Unreadable for a moment: look again next time.
    if (wanted === undefined) return;
    if (wanted === null || !isStillWanted(wanted)) {
      clearInterval(timer);
      shutDown();
    }
  }, CHECK_INTERVAL_MS);
  timer.unref();
}
