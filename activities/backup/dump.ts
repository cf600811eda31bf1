// Step 1 of a backup: pg_dump --format=custom streamed straight into storage, checksummed and counted
// on the way (or, with parallelJobs > 1, pg_dump --format=directory --jobs=N on the worker's spool,
// then packed into one tar object through the same pipeline), inside an exported snapshot in which
// the source's inventory is also taken. The dump's manifest is written right away as `unverified`,
// so even an interrupted run leaves a true catalog.
import path from 'node:path';
import type { Readable } from 'node:stream';
import type pg from 'pg';
import { PermanentError, permanentFailure, transientFailure, TransientError } from '../../lib/errors.js';
import type { Trigger } from '../../lib/messages.js';
import { createChecksumStream } from './checksumStream.js';
import { dumpKey, seriesOf, writeManifest, type BackupManifest, type DumpFormat } from './catalog.js';
import type { DatabaseSession } from './databaseSession.js';
import { readDatabaseProperties } from './databaseProperties.js';
import { ageEncryptArgs, ageEnv, ageFailure, type DumpEncryption } from './encryption.js';
import { captureGlobals, globalsKey } from './globals.js';
import { takeInventory, type DatabaseInventory } from './inventory.js';
import { holdDumpLock } from '../migrations/advisoryLock.js';
import { jobsOf, pgDumpArgs, pgToolFailure, type ParallelJobs, type PgTools } from './pgTools.js';
import { packDumpDirectory } from './dumpPacking.js';
import { directoryBytes, withSpoolDirectory } from './spool.js';
import type { Progress } from './progress.js';
import type { BackupStorage } from './storage.js';
import { isSuccessful, startStreamingCommand } from '../../lib/streamingCommand.js';

export interface DumpRequest {
  backupId: string;
  /** The configured database (config name). */
  database: string;
  /** Another database on the same server; absent: the one in the connection string. */
  pgDatabase?: string;
  app: string;
  releaseVersion: string;
  compressionLevel: number;
  trigger: Trigger;
  /** A restore's safety backup: recorded as such, it never prunes its series. */
  isSafetyBackup?: boolean;
  /** pg_dump --lock-wait-timeout (the activity fills it in from the config). */
  lockWaitTimeoutMs?: number;
  /** How long pg_dump may write nothing before it counts as hung (the activity fills it in from the config). */
  stallTimeoutMs?: number;
  /** Encrypt with age before the checksum and the upload (the activity fills it in from the config). */
  encryption?: DumpEncryption;
}

const DEFAULT_LOCK_WAIT_TIMEOUT_MS = 5 * 60_000;
const DEFAULT_STALL_TIMEOUT_MS = 15 * 60_000;

export interface DumpResult {
  backupId: string;
  series: string;
  location: string;
  sizeBytes: number;
  sha256: string;
  /** When the dump's snapshot was taken (just before): writes committed after it are not in it. */
  createdAt?: string;
  dumpDurationMs: number;
  throughputBytesPerSecond: number;
  tableCount: number;
  totalRows: number;
  /** What the stored globals hold, or why they could not be stored. */
  globals?: string;
  /** Objects with no manifest (older than a day) that the run deleted from its series before dumping. */
  sweptOrphans?: string[];
}

/** Generous: a dump that takes longer than this is stuck, not big. */
const DUMP_TIMEOUT_MS = 12 * 3_600_000;

export async function dumpToStorage(request: DumpRequest, session: DatabaseSession, storage: BackupStorage, tools: PgTools, progress: Progress): Promise<DumpResult> {
  const pgDatabase = request.pgDatabase ?? session.defaultDatabase;
  const series = seriesOf(request.app, request.database, request.pgDatabase);
  const key = dumpKey(series, request.backupId, request.releaseVersion);
  const createdAt = new Date();
  const dumpFormat: DumpFormat = jobsOf(tools) > 1 ? 'directory-tar' : 'custom';
  const snapshotHolder = await session.connect(pgDatabase);
  // What this attempt stored: deleted if the attempt fails before its manifest is written, so a
  // failed dump (an inventory cut short, a manifest that could not be written) leaves no orphan.
  const written: string[] = [];
  let isCatalogued = false;
  try {
    await waitForMigrations(snapshotHolder, request.lockWaitTimeoutMs ?? DEFAULT_LOCK_WAIT_TIMEOUT_MS, progress);
    const snapshot = await exportSnapshot(snapshotHolder);
    const expectedSizeBytes = await databaseSizeBytes(snapshotHolder);
    progress.setPhase('dump');
    written.push(key);
    const dumpArgs = (directory?: { path: string; jobs: number }) => pgDumpArgs({
      compressionLevel: request.compressionLevel, snapshot, lockWaitTimeoutMs: request.lockWaitTimeoutMs ?? DEFAULT_LOCK_WAIT_TIMEOUT_MS, directory,
    });
    const storeOptions = { stallTimeoutMs: request.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS, encryption: request.encryption, expectedSizeBytes };
    const { sha256, sizeBytes } = dumpFormat === 'directory-tar'
      ? await dumpDirectoryToStorage(tools, tools.parallel!, dumpArgs, session.commandEnv(pgDatabase), storage, key, progress, storeOptions)
      : await streamDump(tools, dumpArgs(), session.commandEnv(pgDatabase), storage, key, progress, storeOptions);
    const dumpDurationMs = Date.now() - createdAt.getTime();
    progress.setPhase('globals');
    const globalsStorageKey = globalsKey(series, request.backupId);
    written.push(globalsStorageKey);
    const globals = await captureGlobals({ pgDumpall: tools.pgDumpall, env: session.commandEnv(pgDatabase), database: pgDatabase, storage, key: globalsStorageKey, signal: progress.signal })
      .catch((err: Error) => {
        progress.throwIfCancelled();
        return { error: err.message };
      });
    progress.setPhase('inventory');
    const source = await takeInventory(snapshotHolder);
    const databaseProperties = await readDatabaseProperties(snapshotHolder, pgDatabase);
    await snapshotHolder.query('commit');
    const manifest: BackupManifest = {
      formatVersion: 1,
      backupId: request.backupId,
      app: request.app,
      database: request.database,
      pgDatabase,
      series,
      dumpKey: key,
      location: storage.locationOf(key),
      createdAt: createdAt.toISOString(),
      releaseVersion: request.releaseVersion,
      trigger: { source: request.trigger.source, actor: request.trigger.actor },
      compressionLevel: request.compressionLevel,
      dumpFormat,
      sizeBytes,
      sha256,
      dumpDurationMs,
      throughputBytesPerSecond: Math.round(sizeBytes / Math.max(dumpDurationMs / 1000, 0.001)),
      status: 'unverified',
      source,
      databaseProperties,
      ...('error' in globals ? { globalsError: globals.error } : { globals }),
      isSafetyBackup: request.isSafetyBackup || undefined,
      ...(request.encryption ? { encryption: { method: 'age' as const, recipients: request.encryption.recipients } } : {}),
    };
    await writeManifest(storage, manifest);
    isCatalogued = true;
    return summarize(manifest, source);
  } finally {
    await snapshotHolder.end().catch(() => undefined);
    if (!isCatalogued) for (const stored of written) await storage.delete(stored).catch(() => undefined);
  }
}

/**
 * A migration of this database never runs during the dump: the lock is held shared by the snapshot
 * holder until it disconnects, and a running migration is waited for (for lockWaitTimeout, like a
 * table lock; then the attempt fails and is retried).
 */
async function waitForMigrations(snapshotHolder: pg.Client, timeoutMs: number, progress: Progress): Promise<void> {
  await holdDumpLock(snapshotHolder, { timeoutMs, signal: progress.signal, onWaiting: (holder) => progress.setPhase(`waiting for a migration to finish${holder}`) },
    (holder, waitedMs) => new Error(`a migration of this database is running${holder} and had not finished after ${Math.round(waitedMs / 1000)} s (lockWaitTimeout); nothing was dumped`));
}

/** A read-only repeatable-read transaction whose snapshot pg_dump shares (--snapshot). */
async function exportSnapshot(client: pg.Client): Promise<string> {
  await client.query('begin isolation level repeatable read read only');
  const { rows: [row] } = await client.query<{ snapshot: string }>('select pg_export_snapshot() as snapshot');
  return row!.snapshot;
}

/** The database's size on disk: more than its dump (compressed, without indexes), so S3's parts are sized for it. */
async function databaseSizeBytes(client: pg.Client): Promise<number> {
  const { rows: [row] } = await client.query<{ size: string }>('select pg_database_size(current_database())::text as size');
  return Number(row!.size);
}

/** What feeds the stored object: pg_dump's stdout, or the tar of a directory-format dump. */
interface DumpSource {
  stream: Readable;
  /** Resolves when the producer finished cleanly; rejects with why it did not. */
  finished: Promise<void>;
  stop(): void;
  /** Names the producer in a stall message. */
  name: string;
}

interface StoreOptions {
  stallTimeoutMs: number;
  encryption?: DumpEncryption;
  expectedSizeBytes: number;
}

/** pg_dump --format=custom on stdout, streamed into storage: the path of parallelJobs 1. */
async function streamDump(tools: PgTools, args: string[], env: Record<string, string>, storage: BackupStorage, key: string, progress: Progress, options: StoreOptions) {
  const dump = startStreamingCommand(tools.pgDump, args, { env, timeoutMs: DUMP_TIMEOUT_MS, signal: progress.signal });
  const finished = dump.finished.then((outcome) => {
    if (!isSuccessful(outcome)) throw pgToolFailure('pg_dump', outcome, PermanentError.BackupDumpFailed);
  });
  finished.catch(() => undefined);
  return storeDump({ stream: dump.stdout, finished, stop: dump.stop, name: 'pg_dump' }, storage, key, progress, options);
}

/**
 * parallelJobs N > 1: pg_dump --format=directory --jobs=N into a spool directory on the worker (its
 * growth heartbeats as bytes, and counts for the stall watchdog), then the directory packed into one
 * tar object through the same pipeline as a custom archive. The directory is removed whatever happens.
 */
async function dumpDirectoryToStorage(tools: PgTools, parallel: ParallelJobs, dumpArgs: (directory: { path: string; jobs: number }) => string[],
  env: Record<string, string>, storage: BackupStorage, key: string, progress: Progress, options: StoreOptions) {
  return withSpoolDirectory(parallel.spoolDir, 'dump', async (spool) => {
    const dir = path.join(spool, 'dump');
    const dump = startStreamingCommand(tools.pgDump, dumpArgs({ path: dir, jobs: parallel.jobs }), { env, timeoutMs: DUMP_TIMEOUT_MS, signal: progress.signal });
    dump.stdout.resume();
    let counted = 0;
    let isMeasuring = false;
    let isDumping = true;
    const measure = setInterval(() => {
      if (isMeasuring) return;
      isMeasuring = true;
      void directoryBytes(dir).then((bytes) => {
        // A measure that ends after pg_dump does must not count in the packing's phase.
        if (isDumping && bytes > counted) progress.addBytes(bytes - counted);
        counted = Math.max(counted, bytes);
      }).finally(() => { isMeasuring = false; });
    }, DIRECTORY_MEASURE_INTERVAL_MS);
    const watchdog = watchForStall(progress, options.stallTimeoutMs, dump.stop);
    let outcome;
    try {
      outcome = await dump.finished;
    } finally {
      isDumping = false;
      clearInterval(measure);
      watchdog.stop();
    }
    progress.throwIfCancelled();
    if (watchdog.stalledFor() !== undefined) throw stalled('pg_dump', watchdog.stalledFor()!, progress);
    if (!isSuccessful(outcome)) throw pgToolFailure('pg_dump', outcome, PermanentError.BackupDumpFailed);

    progress.setPhase('pack');
    const packed = packDumpDirectory(dir);
    return storeDump({ ...packed, name: 'packing the dump directory' }, storage, key, progress, options);
  });
}

const DIRECTORY_MEASURE_INTERVAL_MS = 1000;

/** source | age --encrypt (optional) | sha256 and size | storage; stopped when no byte moves for stallTimeoutMs. */
async function storeDump(source: DumpSource, storage: BackupStorage, key: string, progress: Progress, options: StoreOptions) {
  // pg_dump | age --encrypt: the checksum and the storage only ever see ciphertext.
  const encrypt = options.encryption
    ? startStreamingCommand(options.encryption.agePath, ageEncryptArgs(options.encryption.recipients), { env: ageEnv(), timeoutMs: DUMP_TIMEOUT_MS, signal: progress.signal, hasStdin: true })
    : undefined;
  const stop = () => {
    source.stop();
    encrypt?.stop();
  };
  const checksum = createChecksumStream({
    onBytes: progress.addBytes,
    // The object is completed only if the producer (and age) finish cleanly; a failed dump leaves nothing stored.
    beforeEnd: async () => {
      await source.finished;
      const encrypted = await encrypt?.finished;
      if (encrypted && !isSuccessful(encrypted)) throw permanentFailure(PermanentError.BackupDumpFailed, ageFailure(encrypted));
    },
  });
  // Its errors (a failed producer, seen at its end) reach us through storage.write and source.finished.
  // After a cancelled or failed write nothing listens to it any more, and an 'error' event nobody
  // hears is an uncaught exception: it would take the worker down (seen when a dump was terminated).
  checksum.stream.on('error', () => undefined);
  if (encrypt) {
    source.stream.pipe(encrypt.stdin!);
    encrypt.stdout.pipe(checksum.stream);
  } else {
    source.stream.pipe(checksum.stream);
  }
  // A hung pg_dump (a dead connection, a lock it waits for) heartbeats no progress: it is stopped
  // after stallTimeoutMs without a byte, and the attempt fails (retried), instead of running for hours.
  const watchdog = watchForStall(progress, options.stallTimeoutMs, stop);
  try {
    await storage.write(key, checksum.stream, progress.signal, { expectedSizeBytes: options.expectedSizeBytes });
  } catch (err) {
    stop();
    const sourceError = await source.finished.then(() => undefined, (failure: Error) => failure);
    progress.throwIfCancelled();
    if (watchdog.stalledFor() !== undefined) throw stalled(source.name, watchdog.stalledFor()!, progress);
    // The dump's own failure explains more than the storage write it broke.
    throw sourceError ?? err;
  } finally {
    watchdog.stop();
  }
  return checksum.result();
}

/** Calls stop once progress.bytes() has not moved for stallTimeoutMs. */
function watchForStall(progress: Progress, stallTimeoutMs: number, stop: () => void) {
  let stalledFor: number | undefined;
  let lastBytes = -1;
  let lastAdvanceAt = Date.now();
  const timer = setInterval(() => {
    if (progress.bytes() !== lastBytes) {
      lastBytes = progress.bytes();
      lastAdvanceAt = Date.now();
    } else if (Date.now() - lastAdvanceAt > stallTimeoutMs) {
      stalledFor = Date.now() - lastAdvanceAt;
      stop();
    }
  }, Math.min(1000, stallTimeoutMs / 4));
  return { stalledFor: () => stalledFor, stop: () => clearInterval(timer) };
}

function stalled(what: string, stalledForMs: number, progress: Progress): Error {
  return transientFailure(TransientError.NetworkError, `${what} made no progress for ${Math.round(stalledForMs / 1000)} s (stalled at ${progress.bytes()} bytes) and was stopped`);
}

function summarize(manifest: BackupManifest, source: DatabaseInventory): DumpResult {
  return {
    backupId: manifest.backupId,
    series: manifest.series,
    location: manifest.location,
    sizeBytes: manifest.sizeBytes,
    sha256: manifest.sha256,
    createdAt: manifest.createdAt,
    dumpDurationMs: manifest.dumpDurationMs,
    throughputBytesPerSecond: manifest.throughputBytesPerSecond,
    tableCount: source.tables.length,
    totalRows: Object.values(source.rowCounts).reduce((sum, rows) => sum + rows, 0),
    globals: manifest.globals ? `${manifest.globals.roles.length} roles (pg_dumpall --globals-only)` : `NOT stored: ${manifest.globalsError}`,
  };
}
