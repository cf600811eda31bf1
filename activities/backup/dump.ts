// Step 1 of a backup: pg_dump --format=custom streamed straight into storage, checksummed and counted
// on the way, inside an exported snapshot in which the source's inventory is also taken. The dump's
// manifest is written right away as `unverified`, so even an interrupted run leaves a true catalog.
import type pg from 'pg';
import { PermanentError, permanentFailure, transientFailure, TransientError } from '../../lib/errors.js';
import type { Trigger } from '../../lib/messages.js';
import { createChecksumStream } from './checksumStream.js';
import { dumpKey, seriesOf, writeManifest, type BackupManifest } from './catalog.js';
import type { DatabaseSession } from './databaseSession.js';
import { readDatabaseProperties } from './databaseProperties.js';
import { ageEncryptArgs, ageEnv, ageFailure, type DumpEncryption } from './encryption.js';
import { captureGlobals, globalsKey } from './globals.js';
import { takeInventory, type DatabaseInventory } from './inventory.js';
import { holdDumpLock } from '../migrations/advisoryLock.js';
import { pgDumpArgs, pgToolFailure, type PgTools } from './pgTools.js';
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
    const { sha256, sizeBytes } = await streamDump(tools, pgDumpArgs({ compressionLevel: request.compressionLevel, snapshot, lockWaitTimeoutMs: request.lockWaitTimeoutMs ?? DEFAULT_LOCK_WAIT_TIMEOUT_MS }), session.commandEnv(pgDatabase), storage, key, progress, {
      stallTimeoutMs: request.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS, encryption: request.encryption, expectedSizeBytes,
    });
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

async function streamDump(tools: PgTools, args: string[], env: Record<string, string>, storage: BackupStorage, key: string, progress: Progress,
  options: { stallTimeoutMs: number; encryption?: DumpEncryption; expectedSizeBytes: number }) {
  const { stallTimeoutMs } = options;
  const dump = startStreamingCommand(tools.pgDump, args, { env, timeoutMs: DUMP_TIMEOUT_MS, signal: progress.signal });
  // pg_dump | age --encrypt: the checksum and the storage only ever see ciphertext.
  const encrypt = options.encryption
    ? startStreamingCommand(options.encryption.agePath, ageEncryptArgs(options.encryption.recipients), { env: ageEnv(), timeoutMs: DUMP_TIMEOUT_MS, signal: progress.signal, hasStdin: true })
    : undefined;
  const stop = () => {
    dump.stop();
    encrypt?.stop();
  };
  const checksum = createChecksumStream({
    onBytes: progress.addBytes,
    // The object is completed only if pg_dump (and age) exit cleanly; a failed dump leaves nothing stored.
    beforeEnd: async () => {
      const outcome = await dump.finished;
      if (!isSuccessful(outcome)) throw pgToolFailure('pg_dump', outcome, PermanentError.BackupDumpFailed);
      const encrypted = await encrypt?.finished;
      if (encrypted && !isSuccessful(encrypted)) throw permanentFailure(PermanentError.BackupDumpFailed, ageFailure(encrypted));
    },
  });
  if (encrypt) {
    dump.stdout.pipe(encrypt.stdin!);
    encrypt.stdout.pipe(checksum.stream);
  } else {
    dump.stdout.pipe(checksum.stream);
  }
  // A hung pg_dump (a dead connection, a lock it waits for) heartbeats no progress: it is stopped
  // after stallTimeoutMs without a byte, and the attempt fails (retried), instead of running for hours.
  let stalledFor: number | undefined;
  let lastBytes = -1;
  let lastAdvanceAt = Date.now();
  const watchdog = setInterval(() => {
    if (progress.bytes() !== lastBytes) {
      lastBytes = progress.bytes();
      lastAdvanceAt = Date.now();
    } else if (Date.now() - lastAdvanceAt > stallTimeoutMs) {
      stalledFor = Date.now() - lastAdvanceAt;
      stop();
    }
  }, Math.min(1000, stallTimeoutMs / 4));
  try {
    await storage.write(key, checksum.stream, progress.signal, { expectedSizeBytes: options.expectedSizeBytes });
  } catch (err) {
    stop();
    const outcome = await dump.finished.catch(() => undefined);
    progress.throwIfCancelled();
    if (stalledFor !== undefined) throw transientFailure(TransientError.NetworkError, `pg_dump made no progress for ${Math.round(stalledFor / 1000)} s (stalled at ${progress.bytes()} bytes) and was stopped`);
    // The dump's own failure explains more than the storage write it broke.
    throw outcome && !isSuccessful(outcome) ? pgToolFailure('pg_dump', outcome, PermanentError.BackupDumpFailed) : err;
  } finally {
    clearInterval(watchdog);
  }
  return checksum.result();
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
