// @ts-check
// Machine and router processes are detached (they outlive the flyctl call that started them, like
// real machines), so they check every second whether they are still wanted and exit when not:
// the state directory is gone, the owner process (a test run, the sandbox) has died, or the state
// no longer names this very process.
import fs from 'node:fs';
import { isProcessAlive } from './processes.js';
import { readState } from './state.js';

const CHECK_INTERVAL_MS = 1000;

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
    if (!fs.existsSync(dir)) return false;
    try {
      const state = readState(dir);
      if (state.settings.ownerPid && !isProcessAlive(state.settings.ownerPid)) return false;
      return isStillWanted(state);
    } catch {
      // A state file mid-replacement or unreadable for a moment: look again next time.
      return true;
    }
  }
}
