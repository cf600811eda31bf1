// Restoring a catalogued backup into a target database on the configured server: a new database,
// or an existing one that is dropped and recreated (the workflow has had it confirmed, approved and
// backed up by then). The result is checked against the backup's source inventory.
import type pg from 'pg';
import { PermanentError, permanentFailure, type PermanentErrorType } from '../../lib/errors.js';
import type { CheckResult } from '../../lib/messages.js';
import type { BackupManifest } from './catalog.js';
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

export async function restoreIntoDatabase(manifest: BackupManifest, targetDatabase: string, isOverwrite: boolean,
  session: DatabaseSession, storage: BackupStorage, tools: PgTools, progress: Progress): Promise<RestoreOutcome> {
  progress.setPhase('prepare target');
  await withMaintenanceClient(session, targetDatabase, async (admin) => {
    const target = admin.escapeIdentifier(targetDatabase);
    if (isOverwrite) await admin.query(`drop database if exists ${target} with (force)`);
    else if (await databaseExists(admin, targetDatabase)) {
      throw permanentFailure(PermanentError.InvalidInput, `database ${targetDatabase} already exists; overwriting it must be confirmed`);
    }
    // template0: a restore needs an empty database, whatever template1 has gathered.
    await admin.query(`create database ${target} template template0`);
  });
  const checks = await restoreAndCompare(manifest, { session, storage, tools, progress, database: targetDatabase, isScratch: false });
  if (checks.every((check) => check.isPassed)) return { isVerified: true, checks };
  // The first check is the restore itself; the others compare what it brought back.
  const failureType = checks[0]?.isPassed ? PermanentError.BackupVerificationFailed : PermanentError.BackupRestoreFailed;
  return { isVerified: false, checks, failureType };
}

export async function databaseExists(client: pg.Client, name: string): Promise<boolean> {
  const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name]);
  return (rowCount ?? 0) > 0;
}

/** A connection to another database than target, from which target can be dropped and created. */
export async function withMaintenanceClient<T>(session: DatabaseSession, targetDatabase: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await session.connect(targetDatabase === session.defaultDatabase ? 'postgres' : session.defaultDatabase);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
