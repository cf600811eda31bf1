// Backups in a local directory (the default): one file per key, written beside its final name and
// renamed into place, so a reader never sees half a dump.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { assertSafeKey, StorageObjectMissing, type BackupStorage } from './storage.js';

const PARTIAL_MARKER = '.partial-';

export function createLocalStorage(dir: string): BackupStorage {
  const root = path.resolve(dir);
  const fileOf = (key: string) => {
    assertSafeKey(key);
    return path.join(root, ...key.split('/'));
  };

  return {
    locationOf: (key) => fileOf(key),

    async write(key, source, signal) {
      const file = fileOf(key);
      await fs.promises.mkdir(path.dirname(file), { recursive: true });
      const partial = `${file}${PARTIAL_MARKER}${randomBytes(4).toString('hex')}`;
      try {
        await pipeline(source, fs.createWriteStream(partial, { mode: 0o600 }), { signal });
        await syncToDisk(partial);
        await fs.promises.rename(partial, file);
      } catch (err) {
        await fs.promises.rm(partial, { force: true });
        throw err;
      }
    },

    async read(key) {
      const file = fileOf(key);
      const handle = await fs.promises.open(file, 'r').catch((err: NodeJS.ErrnoException) => {
        throw err.code === 'ENOENT' ? new StorageObjectMissing(file) : err;
      });
      return handle.createReadStream() as Readable;
    },

    async list(prefix) {
      // Only the deepest directory the prefix names needs scanning.
      const scanned = path.join(root, ...prefix.split('/').slice(0, -1));
      const entries = await fs.promises.readdir(scanned, { recursive: true, withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return [];
        throw err;
      });
      return entries
        .filter((entry) => entry.isFile() && !entry.name.includes(PARTIAL_MARKER))
        .map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'))
        .filter((key) => key.startsWith(prefix))
        .sort();
    },

    async delete(key) {
      await fs.promises.rm(fileOf(key), { force: true });
    },
  };
}

/** A backup that only sits in the page cache is not a backup yet. */
async function syncToDisk(file: string): Promise<void> {
  const handle = await fs.promises.open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
