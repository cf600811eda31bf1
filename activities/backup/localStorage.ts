// Backups in a local directory (the default): one file per key, written beside its final name and
// renamed into place, so a reader never sees half a dump.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
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
      await makeDirectoriesDurably(path.dirname(file));
      const partial = `${file}${PARTIAL_MARKER}${randomBytes(4).toString('hex')}`;
      try {
        await writeDurably(partial, source, signal);
        await fs.promises.rename(partial, file);
        // The rename is an entry in the directory: until the directory is synced, a crash may lose it.
        await syncDirectory(path.dirname(file));
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
      return (await filesUnder(root, prefix)).filter((key) => !key.includes(PARTIAL_MARKER));
    },

    async listObjects(prefix) {
      const objects = [];
      for (const key of await filesUnder(root, prefix)) {
        const stat = await fs.promises.stat(fileOf(key)).catch(() => undefined);
        if (stat) objects.push({ key, modifiedAt: stat.mtime, isPartial: key.includes(PARTIAL_MARKER) });
      }
      return objects;
    },

    async delete(key) {
      await fs.promises.rm(fileOf(key), { force: true });
    },
  };
}

/** Every file's key under prefix, sorted; only the deepest directory the prefix names is scanned. */
async function filesUnder(root: string, prefix: string): Promise<string[]> {
  const scanned = path.join(root, ...prefix.split('/').slice(0, -1));
  const entries = await fs.promises.readdir(scanned, { recursive: true, withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'))
    .filter((key) => key.startsWith(prefix))
    .sort();
}

/** Flushed to disk while it is written, so that the final fsync waits for the last part only. */
const FLUSH_EVERY_BYTES = 64 * 1024 * 1024;

/** A backup that only sits in the page cache is not a backup yet. */
async function writeDurably(file: string, source: Readable, signal?: AbortSignal): Promise<void> {
  // flush: the stream fsyncs before it closes its descriptor, and it alone closes it.
  const out = fs.createWriteStream(file, { mode: 0o600, flush: true });
  let openFd: number | undefined;
  out.once('open', (fd: number) => { openFd = fd; });
  out.once('close', () => { openFd = undefined; });
  let unflushedBytes = 0;
  let isFlushing = false;
  const flushAsItGoes = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      unflushedBytes += chunk.length;
      if (unflushedBytes >= FLUSH_EVERY_BYTES && !isFlushing && openFd !== undefined) {
        unflushedBytes = 0;
        isFlushing = true;
        // In the background, one at a time: the dump keeps streaming meanwhile.
        fs.fdatasync(openFd, () => { isFlushing = false; });
      }
      callback(null, chunk);
    },
  });
  await pipeline(source, flushAsItGoes, out, { signal });
}

/**
 * mkdir -p, then an fsync of each directory whose entries changed (the parent of every directory
 * created), so that a crash right after a backup cannot lose the directory the dump lives in.
 */
async function makeDirectoriesDurably(dir: string): Promise<void> {
  const firstCreated = await fs.promises.mkdir(dir, { recursive: true });
  if (firstCreated === undefined) return;
  for (let created = dir; created.length >= firstCreated.length; created = path.dirname(created)) await syncDirectory(path.dirname(created));
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await fs.promises.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
