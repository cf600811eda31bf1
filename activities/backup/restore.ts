// Restoring a catalogued backup without ever touching the target until the copy is proven: the
// dump is restored into a staging database (`<target>_restoring_<ts>`) with the same flags, owner,
// encoding, locale, ACL and settings as production will have, compared with the backup's source
// there, and only then swapped in within a short window: new connections blocked, sessions
// terminated, the live database renamed to `<target>_pre_restore_<ts>` (never dropped), the
// restored one renamed into its place. A failure before the swap leaves the live database as it
// was; a failure inside the swap gives it its connections back under its own name.
import type pg from 'pg';
import { PermanentError, permanentFailure, type PermanentErrorType } from '../../lib/errors.js';
import type { CheckResult } from '../../lib/messages.js';
import type { BackupManifest } from './catalog.js';
import { applyDatabaseProperties, compareDatabaseProperties, createDatabaseLike, readDatabaseProperties } from './databaseProperties.js';
import type { DatabaseSession } from './databaseSession.js';
import type { PgTools } from './pgTools.js';
import type { Progress } from './progress.js';
import type { BackupStorage } from './storage.js';
import { restoreAndCompare } from './verify.js';

export interface RestoreOutcome {
  isVerified: boolean;
  checks: CheckResult[];
  /** BackupRestoreFailed when pg_restore failed, BackupVerificationFailed when the result differs. */
  failureType?: PermanentErrorType;
}

export interface RestoreNames {
  /** Where the dump is restored and checked; renamed to the target by the swap. */
  stagingDatabase: string;
  /** What an existing target is renamed to by the swap. */
  preRestoreDatabase: string;
}

export interface SwapRequest extends RestoreNames {
  targetDatabase: string;
  isOverwrite: boolean;
}

export interface SwapOutcome {
  /** When new connections to the live database were refused: writes after this could not commit. */
  connectionsBlockedAt: string;
  swappedAt: string;
  /** The old database, kept under this name (absent for a new target). */
  preRestoreDatabase?: string;
  terminatedSessions: number;
  /** An earlier attempt had already swapped (a retry after a lost worker). */
  wasAlreadySwapped: boolean;
}

/** Names that fit PostgreSQL's 63 characters, derived from the target and the plan's time. */
export function restoreNamesFor(targetDatabase: string, at: Date): RestoreNames {
  const stamp = at.toISOString().replace(/\D/g, '').slice(0, 14);
  const base = targetDatabase.slice(0, 63 - '_pre_restore_'.length - stamp.length);
  return { stagingDatabase: `${base}_restoring_${stamp}`, preRestoreDatabase: `${base}_pre_restore_${stamp}` };
}

/**
 * Restores into the staging database (dropping a stale one: its name is this restore's own) and
 * checks it: the restore itself with production's flags, the inventory, the database properties.
 * When anything fails the staging database is dropped; the target was never touched.
 */
export async function restoreIntoStaging(manifest: BackupManifest, stagingDatabase: string,
  session: DatabaseSession, storage: BackupStorage, tools: PgTools, progress: Progress): Promise<RestoreOutcome> {
  progress.setPhase('prepare staging');
  await withMaintenanceClient(session, [stagingDatabase], async (admin) => {
    await admin.query(`drop database if exists ${admin.escapeIdentifier(stagingDatabase)} with (force)`);
    await createDatabaseLike(admin, stagingDatabase, manifest.databaseProperties);
  });
  try {
    const checks = await restoreAndCompare(manifest, { session, storage, tools, progress, database: stagingDatabase, isScratch: false });
    if (checks[0]?.isPassed && manifest.databaseProperties) checks.push(await applyAndCheckProperties(session, manifest, stagingDatabase));
    if (checks.every((check) => check.isPassed)) return { isVerified: true, checks };
    await dropStaging(session, stagingDatabase);
    // The first check is the restore itself; the others compare what it brought back.
    const failureType = checks[0]?.isPassed ? PermanentError.BackupVerificationFailed : PermanentError.BackupRestoreFailed;
    return { isVerified: false, checks, failureType };
  } catch (err) {
    await dropStaging(session, stagingDatabase);
    throw err;
  }
}

async function applyAndCheckProperties(session: DatabaseSession, manifest: BackupManifest, database: string): Promise<CheckResult> {
  return withMaintenanceClient(session, [database], async (admin) => {
    await applyDatabaseProperties(admin, database, manifest.databaseProperties!);
    return compareDatabaseProperties(manifest.databaseProperties!, await readDatabaseProperties(admin, database));
  });
}

/** On a fresh connection: the one that ran the restore may be what failed. */
export async function dropStagingDatabase(session: DatabaseSession, stagingDatabase: string): Promise<void> {
  await withMaintenanceClient(session, [stagingDatabase], (admin) => admin.query(`drop database if exists ${admin.escapeIdentifier(stagingDatabase)} with (force)`));
}

async function dropStaging(session: DatabaseSession, stagingDatabase: string): Promise<void> {
  await dropStagingDatabase(session, stagingDatabase).catch(() => undefined);
}

const SWAP_ATTEMPTS = 5;
/** object_in_use: a session reconnected between the terminate and the rename. */
const OBJECT_IN_USE = '55006';

/** Puts the verified staging database in the target's place; idempotent for a retried activity. */
export async function swapInRestored(session: DatabaseSession, request: SwapRequest): Promise<SwapOutcome> {
  const { targetDatabase: target, stagingDatabase: staging, preRestoreDatabase: preRestore } = request;
  return withMaintenanceClient(session, [target, staging, preRestore], async (admin) => {
    const now = () => new Date().toISOString();
    const id = (name: string) => admin.escapeIdentifier(name);
    if (!(await databaseExists(admin, staging))) {
      const isDone = (await databaseExists(admin, target)) && (!request.isOverwrite || (await databaseExists(admin, preRestore)));
      if (!isDone) throw permanentFailure(PermanentError.RestoreFailed, `the restored copy ${staging} is gone; nothing was swapped`);
      return { connectionsBlockedAt: now(), swappedAt: now(), preRestoreDatabase: request.isOverwrite ? preRestore : undefined, terminatedSessions: 0, wasAlreadySwapped: true };
    }
    if (!request.isOverwrite) {
      if (await databaseExists(admin, target)) throw permanentFailure(PermanentError.InvalidInput, `database ${target} appeared during the restore; the restored copy stays in ${staging}`);
      await admin.query(`alter database ${id(staging)} rename to ${id(target)}`);
      return { connectionsBlockedAt: now(), swappedAt: now(), terminatedSessions: 0, wasAlreadySwapped: false };
    }
    const connectionsBlockedAt = now();
    await admin.query(`alter database ${id(target)} with allow_connections false`);
    let terminatedSessions = 0;
    try {
      for (let attempt = 1; ; attempt++) {
        const { rows: [terminated] } = await admin.query<{ n: string }>(
          'select count(pg_terminate_backend(pid)) as n from pg_stat_activity where datname = any($1) and pid <> pg_backend_pid()', [[target, staging]]);
        terminatedSessions += Number(terminated!.n);
        try {
          // Both renames or neither: the target is never missing.
          await admin.query('begin');
          await admin.query(`alter database ${id(target)} rename to ${id(preRestore)}`);
          await admin.query(`alter database ${id(staging)} rename to ${id(target)}`);
          await admin.query('commit');
          break;
        } catch (err) {
          await admin.query('rollback').catch(() => undefined);
          if ((err as { code?: string }).code !== OBJECT_IN_USE || attempt >= SWAP_ATTEMPTS) throw err;
        }
      }
    } catch (err) {
      await admin.query(`alter database ${id(target)} with allow_connections true`).catch(() => undefined);
      throw permanentFailure(PermanentError.RestoreFailed, `swapping ${staging} in failed: ${(err as Error).message}; ${target} is unchanged and accepts connections again`);
    }
    const swappedAt = now();
    // The old database stays readable for whoever needs the writes it has that the restore does not.
    await admin.query(`alter database ${id(preRestore)} with allow_connections true`);
    return { connectionsBlockedAt, swappedAt, preRestoreDatabase: preRestore, terminatedSessions, wasAlreadySwapped: false };
  });
}

/** Restore and swap in one step (a run started before restores were staged asks for this). */
export async function restoreIntoDatabase(manifest: BackupManifest, targetDatabase: string, isOverwrite: boolean,
  session: DatabaseSession, storage: BackupStorage, tools: PgTools, progress: Progress): Promise<RestoreOutcome> {
  const names = restoreNamesFor(targetDatabase, new Date());
  const outcome = await restoreIntoStaging(manifest, names.stagingDatabase, session, storage, tools, progress);
  if (!outcome.isVerified) return outcome;
  progress.setPhase('swap');
  await swapInRestored(session, { ...names, targetDatabase, isOverwrite });
  return outcome;
}

export async function databaseExists(client: pg.Client, name: string): Promise<boolean> {
  const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name]);
  return (rowCount ?? 0) > 0;
}

/** A connection to a database other than those named, from which they can be created, dropped and renamed. */
export async function withMaintenanceClient<T>(session: DatabaseSession, avoid: string | string[], fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const avoided = Array.isArray(avoid) ? avoid : [avoid];
  const client = await session.connect(avoided.includes(session.defaultDatabase) ? 'postgres' : session.defaultDatabase);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
