// One migrator at a time per database: a session-level PostgreSQL advisory lock, held on the
// connection that runs the migrations, so it is released if the worker dies mid-run.
import { setTimeout as sleep } from 'node:timers/promises';
import { crc32 } from 'node:zlib';
import type pg from 'pg';
import { MigrationError } from './errors.js';
import { STATE_TABLE } from './schemaState.js';

/** golang-migrate's salt (database/util.go), so both tools take the same lock. */
const GOLANG_MIGRATE_LOCK_SALT = 1486364155;

/**
 * The key golang-migrate's postgres driver locks: crc32 of "schema\0table\0/dbname" times its salt,
 * as a uint32. A person running `migrate up` by hand then waits for Flightdeck, and the reverse.
 */
export function golangMigrateLockKey(databaseName: string, schema: string, table = STATE_TABLE): string {
  const checksum = crc32(`${schema}\0${table}\0/${databaseName}`);
  return String(Math.imul(checksum, GOLANG_MIGRATE_LOCK_SALT) >>> 0);
}

/**
 * The key for runs of an app's own migration command. Not golang-migrate's: that command may well be
 * golang-migrate, which would wait forever for a lock its parent holds.
 */
export function commandLockKey(databaseName: string, schema: string): string {
  return golangMigrateLockKey(databaseName, schema, 'flightdeck_migrate_command');
}

export async function lockKeyFor(db: pg.ClientBase, keyOf: (databaseName: string, schema: string) => string): Promise<string> {
  const { rows } = await db.query<{ database: string; schema: string }>('select current_database() as database, current_schema() as schema');
  return keyOf(rows[0]!.database, rows[0]!.schema);
}

export interface LockWaitOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** Called once, when the lock is found taken and the wait begins. */
  onWaiting?: (holder: string) => void;
}

const FIRST_RETRY_DELAY_MS = 25;
const MAX_RETRY_DELAY_MS = 500;

/**
 * Takes the lock, waiting up to timeoutMs for another migrator to finish. Returns the release.
 * It polls pg_try_advisory_lock rather than blocking in pg_advisory_lock: a blocked statement keeps a
 * snapshot open, and CREATE INDEX CONCURRENTLY in the lock holder's migration waits for every older
 * snapshot in the database, so holder and waiter would deadlock.
 */
export async function acquireMigrationLock(db: pg.ClientBase, key: string, options: LockWaitOptions): Promise<() => Promise<void>> {
  const holder = () => describeLockHolders(db, '$1::bigint >> 32', '$1::bigint & 4294967295', 1, [key]);
  await pollForLock(async () => (await db.query<{ isLocked: boolean }>('select pg_try_advisory_lock($1) as "isLocked"', [key])).rows[0]!.isLocked, holder, options,
    async (waitedMs) => new MigrationError('lock-timeout', `Another migration is running on this database${await holder()} and still held the migration lock after ${formatWait(waitedMs)} of waiting. `
      + 'Nothing was changed. Run again once it has finished.'));
  return async () => { await db.query('select pg_advisory_unlock($1)', [key]); };
}

/**
 * Polls tryLock until it succeeds or timeoutMs has passed (then throws what timeoutError makes);
 * onWaiting hears once, with the holder's description, when the wait begins.
 */
export async function pollForLock(tryLock: () => Promise<boolean>, describeHolder: () => Promise<string>, { timeoutMs, signal, onWaiting }: LockWaitOptions,
  timeoutError: (waitedMs: number) => Promise<Error>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let retryDelayMs = FIRST_RETRY_DELAY_MS;
  for (let attempt = 0; ; attempt++) {
    if (await tryLock()) return;
    const remainingMs = deadline - Date.now();
    if (remainingMs <= 0) throw await timeoutError(timeoutMs);
    if (attempt === 0) onWaiting?.(await describeHolder());
    await sleep(Math.min(retryDelayMs, remainingMs), undefined, { signal });
    retryDelayMs = Math.min(retryDelayMs * 2, MAX_RETRY_DELAY_MS);
  }
}

// ---------------------------------------------------------------- dumps and migrations

/**
 * A migration never runs while a dump of the same database runs, and the reverse: a dump holds this
 * advisory lock SHARED (dumps may overlap each other) on its snapshot-holding session for the whole
 * dump, a migration takes it EXCLUSIVE on its session before its first statement. Advisory locks are
 * per database, so one fixed two-part key (shown in pg_locks with objsubid 2, apart from
 * golang-migrate's bigint keys) serves every database: 'FDck' and 1.
 */
export const DUMP_MIGRATION_LOCK: readonly [number, number] = [0x4644636b, 1];

/** A dump's side: waits (polling) while a migration holds the lock; released when the session ends. */
export async function holdDumpLock(db: pg.ClientBase, options: LockWaitOptions, timeoutError: (holder: string, waitedMs: number) => Error): Promise<void> {
  const holder = () => describeDumpLockHolders(db);
  await pollForLock(async () => (await db.query<{ isLocked: boolean }>('select pg_try_advisory_lock_shared($1, $2) as "isLocked"', [...DUMP_MIGRATION_LOCK])).rows[0]!.isLocked,
    holder, options, async (waitedMs) => timeoutError(await holder(), waitedMs));
}

/** A migration's side: waits (polling) while a dump holds the lock. Returns the release. */
export async function acquireDumpExclusion(db: pg.ClientBase, options: LockWaitOptions): Promise<() => Promise<void>> {
  const holder = () => describeDumpLockHolders(db);
  await pollForLock(async () => (await db.query<{ isLocked: boolean }>('select pg_try_advisory_lock($1, $2) as "isLocked"', [...DUMP_MIGRATION_LOCK])).rows[0]!.isLocked,
    holder, options,
    async (waitedMs) => new MigrationError('lock-timeout', `A backup dump of this database is running${await holder()} and had not finished after ${formatWait(waitedMs)} of waiting `
      + '(backupWaitTimeout). Nothing was changed. Run again once the dump has finished.'));
  return async () => { await db.query('select pg_advisory_unlock($1, $2)', [...DUMP_MIGRATION_LOCK]); };
}

/**
 * Who holds the dump/migration lock, e.g. ` (held by PostgreSQL process 123, application "flightdeck-backup",
 * connected since …)`; with isDumpsOnly, only dumps (the shared holders) count.
 */
export async function describeDumpLockHolders(db: pg.ClientBase, isDumpsOnly = false): Promise<string> {
  return describeLockHolders(db, '$1::int', '$2::int', 2, [...DUMP_MIGRATION_LOCK], isDumpsOnly ? 'ShareLock' : undefined);
}

function formatWait(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`;
}

/** The sessions holding an advisory lock given as pg_locks shows it: classid, objid (SQL over params) and objsubid. */
async function describeLockHolders(db: pg.ClientBase, classid: string, objid: string, objsubid: 1 | 2, params: unknown[], mode?: 'ShareLock'): Promise<string> {
  const { rows } = await db.query<{ pid: number; application_name: string; backend_start: Date }>(
    `select a.pid, a.application_name, a.backend_start from pg_locks l join pg_stat_activity a on a.pid = l.pid
     where l.locktype = 'advisory' and l.granted and l.objsubid = ${objsubid} and l.pid <> pg_backend_pid()${mode ? ` and l.mode = '${mode}'` : ''}
       and l.database = (select oid from pg_database where datname = current_database())
       and l.classid::bigint = (${classid}) and l.objid::bigint = (${objid})
     order by a.backend_start`,
    params,
  );
  const [holder] = rows;
  if (!holder) return '';
  const others = rows.length > 1 ? ` and ${rows.length - 1} more` : '';
  return ` (held by PostgreSQL process ${holder.pid}${holder.application_name ? `, application "${holder.application_name}"` : ''}, connected since ${holder.backend_start.toISOString()}${others})`;
}
