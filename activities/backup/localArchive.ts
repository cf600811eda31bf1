// A stored dump copied onto the worker's spool, for pg_restore --jobs: a packed directory-format dump
// (dumpFormat directory-tar) is always unpacked there; a custom-format archive is copied to a file
// when the database restores with parallelJobs > 1 (pg_restore cannot restore from stdin in
// parallel), else it streams from storage into pg_restore's stdin as before. The copy is checksummed
// (and decrypted) on its way, like the stream, and removed with its spool directory afterwards.
import fs from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isSuccessful, startStreamingCommand } from '../../lib/streamingCommand.js';
import { isClosedPipe } from './archiveRestore.js';
import { dumpFormatOf, type BackupManifest } from './catalog.js';
import { createChecksumStream } from './checksumStream.js';
import { assertDumpDirectory, unpackDumpInto } from './dumpPacking.js';
import { ageDecryptArgs, ageEnv, ageFailure } from './encryption.js';
import { jobsOf, type PgTools } from './pgTools.js';
import type { Progress } from './progress.js';
import { withSpoolDirectory } from './spool.js';
import type { BackupStorage } from './storage.js';

export interface LocalArchive {
  /** The archive file, or the unpacked dump directory: pg_restore's input argument. */
  path: string;
  /** Of the stored object as it was read. */
  sha256: string;
  sizeBytes: number;
}

/** The copy, or why it could not be made (a failed read, a wrong identity, a damaged tar). */
export type LocalCopy = { archive: LocalArchive } | { error: string };

export function needsLocalCopy(manifest: Pick<BackupManifest, 'dumpFormat'>, tools: PgTools): boolean {
  return dumpFormatOf(manifest) === 'directory-tar' || jobsOf(tools) > 1;
}

/** fn gets the local copy when restoring this dump needs one; undefined: pg_restore reads it from storage. */
export async function withRestoreSource<T>(manifest: BackupManifest, storage: BackupStorage, tools: PgTools, progress: Progress,
  fn: (local: LocalCopy | undefined) => Promise<T>): Promise<T> {
  if (!needsLocalCopy(manifest, tools)) return fn(undefined);
  if (!tools.parallel) throw new Error('a local copy of the dump needs the spool directory (tools.parallel)');
  return withSpoolDirectory(tools.parallel.spoolDir, 'restore', async (dir) => {
    progress.setPhase('unpack');
    return fn(await copyToSpool(manifest, storage, tools, progress, dir));
  });
}

async function copyToSpool(manifest: BackupManifest, storage: BackupStorage, tools: PgTools, progress: Progress, dir: string): Promise<LocalCopy> {
  const isPacked = dumpFormatOf(manifest) === 'directory-tar';
  const target = path.join(dir, isPacked ? 'dump' : 'archive.dump');
  if (isPacked) await fs.promises.mkdir(target, { mode: 0o700 });
  const sink: Writable = isPacked ? unpackDumpInto(target) : fs.createWriteStream(target, { flags: 'wx', mode: 0o600 });
  const source = await storage.read(manifest.dumpKey);
  // The checksum is of what is stored: the ciphertext, for an encrypted dump.
  const checksum = createChecksumStream({ onBytes: progress.addBytes });
  const { decryption } = tools;
  const decrypt = decryption
    ? startStreamingCommand(decryption.agePath, ageDecryptArgs(decryption), { env: ageEnv(), timeoutMs: COPY_TIMEOUT_MS, signal: progress.signal, hasStdin: true })
    : undefined;
  // The storage's own failure, not the one a failed write or age passed back to it (a pipeline
  // destroys every stream with the first error; the sink reports its own before that).
  const sinkErrors = new WeakSet<Error>();
  sink.once('error', (err: Error) => sinkErrors.add(err));
  let readError: Error | undefined;
  source.once('error', (err: Error) => {
    if (!sinkErrors.has(err) && !isClosedPipe(err)) readError ??= err;
  });
  const settled = (feed: Promise<void>) => feed.then(() => undefined, (err: Error) => err);
  const { signal } = progress;
  const feeds = decrypt
    ? [pipeline(source, checksum.stream, decrypt.stdin!, { signal }), pipeline(decrypt.stdout, sink, { signal })]
    : [pipeline(source, checksum.stream, sink, { signal })];
  // The last feed ends in the file or the unpacking.
  const writeError = (await Promise.all(feeds.map(settled))).at(-1);
  const decrypted = await decrypt?.finished;
  progress.throwIfCancelled();
  if (readError) return { error: `reading the stored dump failed: ${readError.message}` };
  // age killed by SIGPIPE stopped because the unpacking did: the unpacking's error is the cause.
  if (decrypted && !isSuccessful(decrypted) && decrypted.signal !== 'SIGPIPE') return { error: ageFailure(decrypted, decryption) };
  if (writeError) return { error: isPacked ? `the packed dump could not be unpacked: ${writeError.message}` : `copying the stored dump to the worker failed: ${writeError.message}` };
  if (isPacked) {
    const notADump = await assertDumpDirectory(target).then(() => undefined, (err: Error) => err);
    if (notADump) return { error: `the packed dump could not be unpacked: ${notADump.message}` };
  }
  return { archive: { path: target, ...checksum.result() } };
}

/** As long as pg_restore may take: reading the copy is part of the restore. */
const COPY_TIMEOUT_MS = 12 * 3_600_000;
