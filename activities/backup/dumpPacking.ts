// A directory-format dump (pg_dump --format=directory: toc.dat and one file per table's data) as ONE
// stored object: a tar stream (tar-stream, ustar), so it goes through the same pipeline as a custom
// archive (age, checksum, storage) and by hand it is `tar -xf <object> -C <dir>`. Both directions
// stream file by file with backpressure: memory stays bounded whatever the dump's size.
import fs from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';

/** What pg_dump writes into a dump directory: toc.dat, 1234.dat(.gz|.lz4|.zst), blobs_1234.toc, blob_5678.dat… */
const DUMP_FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const TOC_FILE = 'toc.dat';

export interface PackedDirectory {
  stream: Readable;
  /** Resolves when every file was packed (or the packing was stopped); rejects if a file could not be read. */
  finished: Promise<void>;
  stop(): void;
}

/** The dump directory's files as a tar stream, toc.dat first. */
export function packDumpDirectory(dir: string): PackedDirectory {
  const pack = tar.pack();
  const stopping = new AbortController();
  const finished = (async () => {
    const names = (await fs.promises.readdir(dir)).sort((a, b) => Number(b === TOC_FILE) - Number(a === TOC_FILE) || a.localeCompare(b));
    for (const name of names) {
      const file = path.join(dir, name);
      const stat = await fs.promises.stat(file);
      if (!stat.isFile() || !DUMP_FILE_NAME.test(name)) throw new Error(`the dump directory holds ${name}, which is not a pg_dump file`);
      await pipeline(fs.createReadStream(file), pack.entry({ name, size: stat.size, mode: 0o600, mtime: stat.mtime }), { signal: stopping.signal });
    }
    pack.finalize();
  })().catch((err: Error) => {
    // Stopped by us (the upload failed or stalled): that is the caller's error to report, not ours.
    if (stopping.signal.aborted) return;
    pack.destroy(err);
    throw err;
  });
  finished.catch(() => undefined);
  return {
    stream: pack as unknown as Readable,
    finished,
    stop: () => {
      stopping.abort();
      pack.destroy();
    },
  };
}

/**
 * A writable that unpacks a packed dump into dir (which must exist, empty). Only plain files with
 * pg_dump's names are accepted, each written once: a damaged or foreign tar fails, naming what it held.
 */
export function unpackDumpInto(dir: string): Writable {
  const extract = tar.extract();
  extract.on('entry', (header, entry, next) => {
    if (header.type !== 'file' || !DUMP_FILE_NAME.test(header.name)) {
      entry.resume();
      next(new Error(`it holds ${header.type ?? 'an entry'} "${header.name}", not a pg_dump file`));
      return;
    }
    pipeline(entry, fs.createWriteStream(path.join(dir, header.name), { flags: 'wx', mode: 0o600 })).then(() => next(), next);
  });
  return extract as unknown as Writable;
}

/** An unpacked directory pg_restore can read: it has a table of contents. */
export async function assertDumpDirectory(dir: string): Promise<void> {
  const toc = await fs.promises.stat(path.join(dir, TOC_FILE)).catch(() => undefined);
  if (!toc?.isFile()) throw new Error(`it holds no ${TOC_FILE}: not a directory-format dump`);
}
