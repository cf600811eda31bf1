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
export async function acquireMigrationLock(db: pg.ClientBase, key: string, { timeoutMs, signal, onWaiting }: LockWaitOptions): Promise<() => Promise<void>> {
  const deadline = Date.now() + timeoutMs;
  let retryDelayMs = FIRST_RETRY_DELAY_MS;
  for (let attempt = 0; ; attempt++) {
    const { rows } = await db.query<{ isLocked: boolean }>('select pg_try_advisory_lock($1) as "isLocked"', [key]);
    if (rows[0]!.isLocked) return async () => { await db.query('select pg_advisory_unlock($1)', [key]); };
    const remainingMs = deadline - Date.now();
    if (remainingMs <= 0) {
      throw new MigrationError('lock-timeout', `Another migration is running on this database${await describeLockHolder(db, key)} and still held the migration lock after ${formatWait(timeoutMs)} of waiting. `
        + 'Nothing was changed. Run again once it has finished.');
    }
    if (attempt === 0) onWaiting?.(await describeLockHolder(db, key));
    await sleep(Math.min(retryDelayMs, remainingMs), undefined, { signal });
    retryDelayMs = Math.min(retryDelayMs * 2, MAX_RETRY_DELAY_MS);
  }
}

function formatWait(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`;
}

async function describeLockHolder(db: pg.ClientBase, key: string): Promise<string> {
  // A bigint advisory key shows in pg_locks split into classid (high 32 bits) and objid (low 32 bits).
  const { rows } = await db.query<{ pid: number; application_name: string; backend_start: Date }>(
    `select a.pid, a.application_name, a.backend_start from pg_locks l join pg_stat_activity a on a.pid = l.pid
     where l.locktype = 'advisory' and l.granted and l.objsubid = 1
       and l.classid::bigint = ($1::bigint >> 32) and l.objid::bigint = ($1::bigint & 4294967295)`,
    [key],
  );
  const holder = rows[0];
  if (!holder) return '';
  return ` (held by PostgreSQL process ${holder.pid}${holder.application_name ? `, application "${holder.application_name}"` : ''}, connected since ${holder.backend_start.toISOString()})`;
}
