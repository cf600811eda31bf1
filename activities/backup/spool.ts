// The worker's spool for parallel dumps and restores (parallelJobs > 1): pg_dump --format=directory
// writes there before the dump is packed and stored, and a stored dump is unpacked there before
// pg_restore --jobs reads it. It holds a database's data in clear, so each use gets its own 0700
// directory under FLIGHTDECK_BACKUP_SPOOL_DIR, removed whatever happens (failure, cancellation);
// what a killed worker left is removed by the next use, once older than any activity runs.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** Longer than any dump, verification or restore runs (14 h schedule-to-close). */
const STALE_SPOOL_AGE_MS = 24 * 3_600_000;
const SPOOL_ENTRY = /^flightdeck-(dump|restore)-/;

export async function withSpoolDirectory<T>(spoolRoot: string, purpose: 'dump' | 'restore', fn: (dir: string) => Promise<T>): Promise<T> {
  await fs.promises.mkdir(spoolRoot, { recursive: true, mode: 0o700 });
  await sweepStaleSpool(spoolRoot);
  const dir = path.join(spoolRoot, `flightdeck-${purpose}-${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}-${randomBytes(4).toString('hex')}`);
  await fs.promises.mkdir(dir, { mode: 0o700 });
  try {
    return await fn(dir);
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
}

/** Spool directories of crashed workers; never one in use (younger than any activity's run). */
export async function sweepStaleSpool(spoolRoot: string, now = Date.now()): Promise<string[]> {
  const swept: string[] = [];
  for (const name of await fs.promises.readdir(spoolRoot).catch(() => [] as string[])) {
    if (!SPOOL_ENTRY.test(name)) continue;
    const dir = path.join(spoolRoot, name);
    const stat = await fs.promises.stat(dir).catch(() => undefined);
    if (!stat || now - stat.mtimeMs <= STALE_SPOOL_AGE_MS) continue;
    await fs.promises.rm(dir, { recursive: true, force: true }).catch(() => undefined);
    swept.push(dir);
  }
  return swept;
}

/** The bytes of the files directly in dir (a directory-format dump is flat). */
export async function directoryBytes(dir: string): Promise<number> {
  const entries = await fs.promises.readdir(dir, { withFileTypes: true }).catch(() => []);
  let total = 0;
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    total += (await fs.promises.stat(path.join(dir, entry.name)).catch(() => undefined))?.size ?? 0;
  }
  return total;
}
