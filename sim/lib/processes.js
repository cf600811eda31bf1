// @ts-check
// Liveness checks and termination of the simulator's detached processes. A machine outlives the
// flyctl call that started it and gets re-parented, possibly to an init that never reaps, so a
// zombie counts as dead; /proc/<pid>/cmdline must carry our marker before we signal a pid, so a
// recycled pid is never killed.
import fs from 'node:fs';
import { sleep } from './time.js';

const HAS_PROC = fs.existsSync('/proc/self/stat');

/** @param {number | undefined | null} pid */
export function isProcessAlive(pid) {
  if (!pid || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return /** @type {NodeJS.ErrnoException} */ (err).code === 'EPERM';
  }
  return !isZombie(pid);
}

/** @param {number} pid */
function isZombie(pid) {
  if (!HAS_PROC) return false;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The state letter follows the parenthesised command name, which may itself contain spaces.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true;
  }
}

/**
 * True when the process's command line contains the marker (always true where /proc is absent).
 * @param {number} pid
 * @param {string} marker
 */
export function processHasMarker(pid, marker) {
  if (!HAS_PROC) return isProcessAlive(pid);
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(marker);
  } catch {
    return false;
  }
}

/**
 * Pids of live processes whose command line contains the marker (Linux only; [] elsewhere).
 * @param {string} marker
 * @returns {number[]}
 */
export function findProcessesWithMarker(marker) {
  if (!HAS_PROC) return [];
  const pids = [];
  for (const entry of fs.readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    if (processHasMarker(pid, marker) && isProcessAlive(pid)) pids.push(pid);
  }
  return pids;
}

/**
 * SIGTERM, then SIGKILL after graceMs; resolves once the process is gone. Does nothing unless the
 * pid still runs a command line with the marker.
 * @param {number | undefined | null} pid
 * @param {string} marker
 * @param {{ graceMs?: number }} [options]
 */
export async function terminateProcess(pid, marker, { graceMs = 2000 } = {}) {
  if (!pid || !isProcessAlive(pid) || !processHasMarker(pid, marker)) return;
  signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isProcessAlive(pid) && Date.now() < deadline) await sleep(10);
  if (!isProcessAlive(pid)) return;
  signal(pid, 'SIGKILL');
  while (isProcessAlive(pid)) await sleep(10);
}

/**
 * @param {number} pid
 * @param {NodeJS.Signals} name
 */
function signal(pid, name) {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}
