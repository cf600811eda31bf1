// Objects a backup left without a manifest: a dump (or its globals) whose run failed after writing it
// on a worker that died before it could delete them, and unfinished writes (`.partial-*`) of a
// worker killed mid-dump. No catalog entry points at them, so retention never would: each backup run
// sweeps its own series for them. Only objects older than any run can last are touched: a running
// dump's object has no manifest until its inventory is taken, and its partial file grows for hours.
import type { BackupStorage, StoredObject } from './storage.js';

/** Longer than a dump, verification or restore can run (14 h schedule-to-close): older is abandoned. */
export const ORPHAN_MIN_AGE_MS = 24 * 3_600_000;

const MANIFEST_SUFFIX = '.manifest.json';
const PARTIAL = /\.partial-[0-9a-f]+$/;

/** The backup an object belongs to, from its key (`<backupId>_release-<v>.dump`, `<backupId>.globals.sql`, …). */
export function backupIdOfKey(key: string): string {
  const name = key.slice(key.lastIndexOf('/') + 1).replace(PARTIAL, '');
  if (name.endsWith(MANIFEST_SUFFIX)) return name.slice(0, -MANIFEST_SUFFIX.length);
  const release = name.lastIndexOf('_release-');
  if (release > 0) return name.slice(0, release);
  return name.slice(0, name.indexOf('.') > 0 ? name.indexOf('.') : undefined);
}

/**
 * Deletes, in one series (not its sub-series), unfinished writes and objects whose backup has no
 * manifest, when older than minAgeMs. Returns the keys deleted.
 */
export async function sweepOrphans(storage: BackupStorage, series: string, now = new Date(), minAgeMs = ORPHAN_MIN_AGE_MS): Promise<string[]> {
  const objects = (await storage.listObjects(series)).filter((object) => !object.key.slice(series.length).includes('/'));
  const catalogued = new Set(objects.filter((o) => !o.isPartial && o.key.endsWith(MANIFEST_SUFFIX)).map((o) => backupIdOfKey(o.key)));
  const isOrphan = (object: StoredObject) => object.isPartial || !catalogued.has(backupIdOfKey(object.key));
  const swept = objects.filter((object) => isOrphan(object) && now.getTime() - object.modifiedAt.getTime() > minAgeMs).map((o) => o.key);
  for (const key of swept) await storage.delete(key);
  return swept;
}
