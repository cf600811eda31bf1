// @ts-check
// A lock file created with O_EXCL serialises read-modify-write of the state file across the many
// flyctl processes a test or a deploy pipeline runs at once. A lock whose holder is dead is stale:
// it is moved aside (rename is atomic, so only one waiter breaks it) and the wait goes on.
import fs from 'node:fs';
import { isProcessAlive } from './processes.js';
import { sleep } from './time.js';
import { FlyError } from './errors.js';

const LOCK_WAIT_LIMIT_MS = 30_000;

/** Lock files this process holds, removed on exit so an interrupted command leaves none behind. */
const heldLocks = new Set();
process.once('exit', () => {
  for (const lockPath of heldLocks) removeQuietly(lockPath);
});

/**
 * Runs fn while holding the lock at lockPath.
 * @template T
 * @param {string} lockPath
 * @param {() => T} fn synchronous, so the lock is held as briefly as possible
 * @returns {Promise<T>}
 */
export async function withFileLock(lockPath, fn) {
  await acquire(lockPath);
  try {
    return fn();
  } finally {
    heldLocks.delete(lockPath);
    removeQuietly(lockPath);
  }
}

/** @param {string} lockPath */
async function acquire(lockPath) {
  const deadline = Date.now() + LOCK_WAIT_LIMIT_MS;
  for (;;) {
    // Another async task of this same process may hold it: wait like any other waiter.
    if (!heldLocks.has(lockPath) && tryCreate(lockPath)) return;
    if (!heldLocks.has(lockPath)) breakIfStale(lockPath);
    if (Date.now() > deadline) throw new FlyError(`simulator state is locked by another process (${lockPath})`);
    await sleep(2 + Math.random() * 8);
  }
}

/** @param {string} lockPath */
function tryCreate(lockPath) {
  try {
    const fd = fs.openSync(lockPath, 'wx');
    fs.writeSync(fd, String(process.pid));
    fs.closeSync(fd);
    heldLocks.add(lockPath);
    return true;
  } catch (err) {
    if (/** @type {NodeJS.ErrnoException} */ (err).code === 'EEXIST') return false;
    throw err;
  }
}

/** @param {string} lockPath */
function breakIfStale(lockPath) {
  let holderPid;
  try {
    holderPid = Number(fs.readFileSync(lockPath, 'utf8'));
  } catch {
    return;
  }
  // An empty file is a holder between open and write; give it time before judging.
  if (!holderPid) return breakIfOlderThan(lockPath, 1000);
  if (isProcessAlive(holderPid)) return;
  const asidePath = `${lockPath}.stale-${process.pid}-${Date.now()}`;
  try {
    fs.renameSync(lockPath, asidePath);
    removeQuietly(asidePath);
  } catch {
    // someone else broke it first
  }
}

/**
 * @param {string} lockPath
 * @param {number} ageMs
 */
function breakIfOlderThan(lockPath, ageMs) {
  try {
    if (Date.now() - fs.statSync(lockPath).mtimeMs > ageMs) fs.rmSync(lockPath, { force: true });
  } catch {
    // gone already
  }
}

/** @param {string} filePath */
function removeQuietly(filePath) {
  try {
    fs.rmSync(filePath, { force: true });
  } catch {
    // nothing to do
  }
}
