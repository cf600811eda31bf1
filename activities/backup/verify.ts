// Proving a stored dump restores: its checksum read back from storage, pg_restore --list, a real
// restore into a scratch database compared with the source's inventory, and the scratch dropped.
// Restores into a target database reuse the same restore-and-compare step. A packed directory dump,
// or any dump restored with parallelJobs > 1, is first copied onto the worker (localArchive.ts) and
// restored with pg_restore --jobs from there.
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { PermanentError, type PermanentErrorType } from '../../lib/errors.js';
import { lastLine } from '../../lib/process.js';
import type { CheckResult } from '../../lib/messages.js';
import { restoreArchive } from './archiveRestore.js';
import { dumpFormatOf, type BackupManifest } from './catalog.js';
import { checksumOf } from './checksumStream.js';
import type { DatabaseSession } from './databaseSession.js';
import { checkRoomForScratchCopy } from './freeSpace.js';
import { compareInventories, takeInventory } from './inventory.js';
import { jobsOf, pgErrorOf, pgRestoreArgs, type PgTools } from './pgTools.js';
import { withRestoreSource, type LocalCopy } from './localArchive.js';
import type { Progress } from './progress.js';
import { StorageObjectMissing, type BackupStorage } from './storage.js';
import { isSuccessful } from '../../lib/streamingCommand.js';

export interface VerificationResult {
  isVerified: boolean;
  checks: CheckResult[];
  durationMs: number;
  /**
   * Why it failed, as an error type: BackupChecksumMismatch or BackupVerificationFailed, or the type of
   * the failure that kept verification from running.
   */
  failureType?: string;
}

const RESTORE_TIMEOUT_MS = 12 * 3_600_000;
const LIST_TIMEOUT_MS = 10 * 60_000;

export interface VerifyServer {
  /** Where the scratch database is created from: the source database, or a separate verify server's own. */
  adminDatabase: string;
  /** On the source server: the share of its disk that must stay free after the scratch copy (freeSpace.ts). */
  minFreePercent?: number;
}

export async function verifyStoredBackup(manifest: BackupManifest, session: DatabaseSession, storage: BackupStorage, tools: PgTools, progress: Progress,
  server: VerifyServer = { adminDatabase: manifest.pgDatabase }): Promise<VerificationResult> {
  const startedAt = Date.now();
  const checks: CheckResult[] = [];
  const finish = (failureType?: PermanentErrorType): VerificationResult => ({
    isVerified: failureType === undefined, checks, durationMs: Date.now() - startedAt, failureType,
  });

  progress.setPhase('checksum');
  checks.push(await checkStoredChecksum(manifest, storage, progress));
  if (manifest.globals) checks.push(await checkStoredGlobals(manifest.globals, storage));
  if (!checks.every((check) => check.isPassed)) return finish(PermanentError.BackupChecksumMismatch);

  // A packed directory dump (or parallel jobs) is copied onto the worker once, for the list and the restore.
  return withRestoreSource(manifest, storage, tools, progress, async (local) => {
    progress.setPhase('list');
    checks.push(await checkArchiveContents(manifest, session, storage, tools, progress, local));
    if (!checks.at(-1)!.isPassed) return finish(PermanentError.BackupVerificationFailed);

    if (server.minFreePercent !== undefined) {
      progress.setPhase('free space');
      const admin = await session.connect(server.adminDatabase);
      try {
        checks.push(await checkRoomForScratchCopy(admin, manifest.pgDatabase, server.minFreePercent));
      } finally {
        await admin.end().catch(() => undefined);
      }
      if (!checks.at(-1)!.isPassed) return finish(PermanentError.BackupVerificationFailed);
    }

    checks.push(...await withScratchDatabase(session, server.adminDatabase, (scratch, role) =>
      restoreAndCompare(manifest, { session, storage, tools, progress, database: scratch, isScratch: true, role, source: { local } })));
    return finish(checks.every((check) => check.isPassed) ? undefined : PermanentError.BackupVerificationFailed);
  });
}

/** Reads the stored dump back in full and compares it with what was written. */
export async function checkStoredChecksum(manifest: BackupManifest, storage: BackupStorage, progress: Progress): Promise<CheckResult> {
  return checkStoredObject({ name: 'checksum', what: 'dump', key: manifest.dumpKey, sha256: manifest.sha256, sizeBytes: manifest.sizeBytes }, storage, progress.addBytes);
}

/** The stored globals (pg_dumpall --globals-only), read back and compared the same way. */
export async function checkStoredGlobals(globals: NonNullable<BackupManifest['globals']>, storage: BackupStorage): Promise<CheckResult> {
  const check = await checkStoredObject({ name: 'globals checksum', what: 'globals file', ...globals }, storage);
  return check.isPassed ? { ...check, detail: `${check.detail}; ${globals.roles.length} roles` } : check;
}

async function checkStoredObject(expected: { name: string; what: string; key: string; sha256: string; sizeBytes: number }, storage: BackupStorage, onBytes?: (count: number) => void): Promise<CheckResult> {
  const { name, what } = expected;
  let stored: { sha256: string; sizeBytes: number };
  try {
    stored = await checksumOf(await storage.read(expected.key), onBytes);
  } catch (err) {
    if (err instanceof StorageObjectMissing) return { name, isPassed: false, detail: `the stored ${what} is missing (${err.location})` };
    throw err;
  }
  if (stored.sha256 === expected.sha256 && stored.sizeBytes === expected.sizeBytes) {
    return { name, isPassed: true, detail: `sha256 ${expected.sha256.slice(0, 12)}… over ${expected.sizeBytes} bytes` };
  }
  return {
    name, isPassed: false,
    detail: `the stored ${what} reads back as sha256 ${stored.sha256.slice(0, 12)}… (${stored.sizeBytes} bytes); it was written as ${expected.sha256.slice(0, 12)}… (${expected.sizeBytes} bytes)`,
  };
}

async function checkArchiveContents(manifest: BackupManifest, session: DatabaseSession, storage: BackupStorage, tools: PgTools, progress: Progress,
  local: LocalCopy | undefined): Promise<CheckResult> {
  const name = 'archive contents';
  if (local && 'error' in local) return { name, isPassed: false, detail: local.error };
  const listed = await restoreArchive({
    pgRestore: tools.pgRestore, args: ['--list'], env: session.commandEnv(), storage, key: manifest.dumpKey, progress, timeoutMs: LIST_TIMEOUT_MS, decryption: tools.decryption,
    local: local?.archive,
  });
  if (listed.decryptError) return { name, isPassed: false, detail: listed.decryptError };
  if (!isSuccessful(listed.outcome)) {
    return { name, isPassed: false, detail: `pg_restore --list failed: ${lastLine(listed.outcome.stderrTail) || `exit code ${listed.outcome.exitCode}`}` };
  }
  // The header proves pg_restore read the table of contents. An empty database's archive lists no
  // entries at all (encoding and search_path are not listed), which is correct, not a failure.
  if (!ARCHIVE_HEADER.test(listed.stdout)) return { name, isPassed: false, detail: 'pg_restore --list printed no table of contents' };
  const entries = listed.stdout.split('\n').filter((line) => line.trim() && !line.startsWith(';')).length;
  const sourceTables = manifest.source.tables.length;
  if (entries < sourceTables) {
    return { name, isPassed: false, detail: `pg_restore --list: ${entries} entries, fewer than the ${sourceTables} tables the source had` };
  }
  return { name, isPassed: true, detail: entries === 0 ? 'pg_restore --list: no entries (the source database was empty)' : `pg_restore --list: ${entries} entries` };
}

/** The first lines pg_restore --list prints for any archive it could read. */
const ARCHIVE_HEADER = /^; Archive created at .*\n(?:;.*\n)*;\s+TOC Entries: \d+/m;

export interface RestoreTarget {
  session: DatabaseSession;
  storage: BackupStorage;
  tools: PgTools;
  progress: Progress;
  /** An existing, empty database. */
  database: string;
  isScratch: boolean;
  /** pg_restore --role: the role the restore runs as. */
  role?: string;
  /** Where pg_restore reads the dump, when the caller already decided (withRestoreSource); absent: decided here. */
  source?: { local: LocalCopy | undefined };
}

/** Restores the dump into target.database, then compares its inventory with the source's. */
export async function restoreAndCompare(manifest: BackupManifest, target: RestoreTarget): Promise<CheckResult[]> {
  if (!target.source) {
    return withRestoreSource(manifest, target.storage, target.tools, target.progress, (local) => restoreAndCompare(manifest, { ...target, source: { local } }));
  }
  const { local } = target.source;
  const name = target.isScratch ? 'scratch restore' : 'restore';
  if (local && 'error' in local) return [{ name, isPassed: false, detail: local.error }];
  target.progress.setPhase('restore');
  const restored = await restoreArchive({
    pgRestore: target.tools.pgRestore,
    // --jobs needs an archive pg_restore can seek in: the local copy.
    args: pgRestoreArgs({ database: target.database, isScratch: target.isScratch, role: target.role, jobs: local ? jobsOf(target.tools) : 1 }),
    env: target.session.commandEnv(target.database),
    storage: target.storage, key: manifest.dumpKey, progress: target.progress, timeoutMs: RESTORE_TIMEOUT_MS, decryption: target.tools.decryption,
    local: local?.archive,
  });
  target.progress.throwIfCancelled();
  const restoreCheck = ((): CheckResult => {
    if (restored.readError) return { name, isPassed: false, detail: `reading the stored dump failed: ${restored.readError.message}` };
    if (restored.decryptError) return { name, isPassed: false, detail: restored.decryptError };
    if (!isSuccessful(restored.outcome)) return { name, isPassed: false, detail: `pg_restore failed: ${pgErrorOf(restored.outcome.stderrTail) || `exit code ${restored.outcome.exitCode}`}` };
    // pg_restore may exit content before reading the archive's last bytes (it had every entry): the
    // checksum of what it read is then of a prefix, and the stored object's own checksum step vouches for the rest.
    const isReadWhole = restored.sizeBytes >= manifest.sizeBytes;
    if (isReadWhole && restored.sha256 !== manifest.sha256) return { name, isPassed: false, detail: 'the dump changed while it was being restored (checksum differs)' };
    const how = local ? ` --jobs=${jobsOf(target.tools)}, from the ${dumpFormatOf(manifest) === 'directory-tar' ? 'unpacked directory' : 'archive copied'} on the worker` : '';
    return { name, isPassed: true, detail: `pg_restore into ${target.database}: ${restored.sizeBytes} bytes${how}` };
  })();
  if (!restoreCheck.isPassed) return [restoreCheck];

  target.progress.setPhase('inventory');
  const client = await target.session.connect(target.database);
  try {
    return [restoreCheck, ...compareInventories(manifest.source, await takeInventory(client))];
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The role a verification restores as: no superuser, so code in the dump (index expressions, defaults) runs unprivileged. */
export const VERIFY_ROLE = 'flightdeck_verify';
/** A scratch database older than this was left by a crash (no verification runs that long). */
const ORPHAN_SCRATCH_AGE_MS = 24 * 3_600_000;
const SCRATCH_NAME = /^flightdeck_verify_(\d{14})_[0-9a-f]+$/;

/**
 * A throwaway database on the verify server (the source's, by default), owned by the unprivileged verify role, dropped
 * whatever happens (on a fresh connection: the one that made it may be what failed). Scratch
 * databases that crashed runs left behind are swept first.
 */
async function withScratchDatabase<T>(session: DatabaseSession, adminDatabase: string, fn: (scratch: string, role: string | undefined) => Promise<T>): Promise<T> {
  const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
  const scratch = `flightdeck_verify_${stamp}_${randomBytes(4).toString('hex')}`;
  const admin = await session.connect(adminDatabase);
  let role: string | undefined;
  try {
    await sweepOrphanedScratchDatabases(admin);
    role = await ensureVerifyRole(admin);
    const owner = role ? ` owner ${admin.escapeIdentifier(role)}` : '';
    await admin.query(`create database ${admin.escapeIdentifier(scratch)} template template0${owner}`);
  } finally {
    await admin.end().catch(() => undefined);
  }
  try {
    return await fn(scratch, role);
  } finally {
    const dropper = await session.connect(adminDatabase);
    try {
      await dropper.query(`drop database if exists ${dropper.escapeIdentifier(scratch)} with (force)`);
    } finally {
      await dropper.end().catch(() => undefined);
    }
  }
}

export async function sweepOrphanedScratchDatabases(admin: pg.ClientBase, now = new Date()): Promise<string[]> {
  const { rows } = await admin.query<{ datname: string }>(`select datname from pg_database where datname like 'flightdeck\\_verify\\_%'`);
  const orphans = rows.map((r) => r.datname).filter((name) => {
    const stamp = SCRATCH_NAME.exec(name)?.[1];
    if (!stamp) return false;
    const createdAt = Date.UTC(+stamp.slice(0, 4), +stamp.slice(4, 6) - 1, +stamp.slice(6, 8), +stamp.slice(8, 10), +stamp.slice(10, 12), +stamp.slice(12, 14));
    return now.getTime() - createdAt > ORPHAN_SCRATCH_AGE_MS;
  });
  for (const name of orphans) await admin.query(`drop database if exists ${admin.escapeIdentifier(name)} with (force)`).catch(() => undefined);
  return orphans;
}

/**
 * The unprivileged role, created (NOLOGIN, no superuser) when missing and granted to the
 * connecting user so that pg_restore --role can become it. undefined when the connecting user may
 * not create or grant it: verification then runs as that user, as before.
 */
async function ensureVerifyRole(admin: pg.ClientBase): Promise<string | undefined> {
  try {
    const { rowCount } = await admin.query('select 1 from pg_roles where rolname = $1', [VERIFY_ROLE]);
    if (!rowCount) await admin.query(`create role ${VERIFY_ROLE} nologin nosuperuser nocreatedb nocreaterole`);
    const { rows: [member] } = await admin.query<{ isMember: boolean }>(`select pg_has_role(current_user, '${VERIFY_ROLE}', 'MEMBER') as "isMember"`);
    if (!member!.isMember) await admin.query(`grant ${VERIFY_ROLE} to current_user`);
    return VERIFY_ROLE;
  } catch {
    return undefined;
  }
}
