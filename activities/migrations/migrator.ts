// The migrator: reads the state, and applies, rolls back or forces under the migration lock.
// Every migration runs in its own transaction together with its state and history rows, so a failure
// leaves the database as it was before that migration; only a file marked no-transaction that fails
// part-way leaves the database dirty. Usable from the CLI as well as from activities.
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { MigrationStatusReport, PlannedMigration } from '../../lib/messages.js';
import { acquireDumpExclusion, acquireMigrationLock, golangMigrateLockKey, lockKeyFor } from './advisoryLock.js';
import { MigrationError } from './errors.js';
import {
  assertForceTarget, assertSafeToMigrate, describeStatus, executableStatements, migrationLabel, planApply, planRollback, recoveryGuide,
  toPlannedMigration, type Migration, type MigrationStep, type RollbackTarget, type SchemaState,
} from './plan.js';
import {
  ensureStateTables, readAppliedChecksums, readLastFailure, readSchemaState, recordHistory, stateSchemaOf, writeSchemaState, type HistoryEntry,
} from './schemaState.js';

export interface MigratorOptions {
  connectionString: string;
  migrations: readonly Migration[];
  /** How long to wait for another migrator to finish before giving up. */
  lockTimeoutMs: number;
  /** Aborting cancels the running statement; a transactional migration then rolls back. */
  signal?: AbortSignal;
  onProgress?: (line: string) => void;
  /**
   * lock_timeout of each migration: an ALTER queued behind a long reader (a pg_dump holds ACCESS
   * SHARE for the whole dump) blocks every later query on that table while it waits. It gives up
   * after this, and is retried with backoff. Default 5 s.
   */
  statementLockTimeoutMs?: number;
  /** How often a migration that hit its lock_timeout is tried again (default 5), first after lockRetryDelayMs (default 1 s, doubling). */
  lockRetries?: number;
  lockRetryDelayMs?: number;
  /** statement_timeout of each migration, explicit so that a role's own cannot cut CREATE INDEX CONCURRENTLY short. Default 0: none. */
  statementTimeoutMs?: number;
  /** How long to wait for a backup dump of the database to finish before giving up (advisoryLock.ts). Default 30 minutes. */
  dumpWaitTimeoutMs?: number;
}

export const MIGRATION_DEFAULTS = { statementLockTimeoutMs: 5000, lockRetries: 5, lockRetryDelayMs: 1000, statementTimeoutMs: 0, dumpWaitTimeoutMs: 30 * 60_000 } as const;

/** Who and what a run is recorded for in the history table. */
export interface RunRecord {
  ranBy: string;
  workflowId?: string;
  releaseVersion?: string;
  backupId?: string;
}

export interface MigrationRunOutcome {
  /** What ran, in order. */
  ran: PlannedMigration[];
  appliedVersions: number[];
  rolledBackVersions: number[];
  status: MigrationStatusReport;
}

/** The application name the migrator's connection shows in pg_stat_activity (and lock messages). */
export const MIGRATOR_APPLICATION_NAME = 'flightdeck-migrate';

// ---------------------------------------------------------------- sessions

export interface DatabaseSession {
  db: pg.Client;
  /** Where the state tables are: the current schema when the session opened. */
  schema: string;
  close(): Promise<void>;
}

/** Connects, and cancels the running statement if the signal aborts. */
export async function openSession(connectionString: string, signal?: AbortSignal): Promise<DatabaseSession> {
  const db = new pg.Client({ connectionString, application_name: MIGRATOR_APPLICATION_NAME });
  // A dropped connection emits 'error' on the client; the pending query rejects with it anyway.
  db.on('error', () => undefined);
  await db.connect();
  const { rows } = await db.query<{ pid: number }>('select pg_backend_pid() as pid');
  const cancelRunningStatement = () => { void cancelBackend(connectionString, rows[0]!.pid); };
  signal?.addEventListener('abort', cancelRunningStatement, { once: true });
  return {
    db,
    schema: await stateSchemaOf(db),
    close: async () => {
      signal?.removeEventListener('abort', cancelRunningStatement);
      await db.end().catch(() => undefined);
    },
  };
}

async function cancelBackend(connectionString: string, pid: number): Promise<void> {
  const canceller = new pg.Client({ connectionString, application_name: MIGRATOR_APPLICATION_NAME });
  try {
    await canceller.connect();
    await canceller.query('select pg_cancel_backend($1)', [pid]);
  } catch {
    // The session may already be gone, which is what cancelling wanted.
  } finally {
    await canceller.end().catch(() => undefined);
  }
}

/**
 * Runs fn on a session that holds the migration lock, with both state tables present, once no
 * backup dump of the database is running (and none can start until fn is done).
 */
export async function withMigrationLock<T>(
  options: Pick<MigratorOptions, 'connectionString' | 'lockTimeoutMs' | 'signal' | 'onProgress' | 'dumpWaitTimeoutMs'>,
  lockKeyOf: (databaseName: string, schema: string) => string,
  fn: (db: pg.Client, schema: string) => Promise<T>,
): Promise<T> {
  const session = await openSession(options.connectionString, options.signal);
  try {
    const release = await acquireMigrationLock(session.db, await lockKeyFor(session.db, lockKeyOf), {
      timeoutMs: options.lockTimeoutMs,
      signal: options.signal,
      onWaiting: (holder) => options.onProgress?.(`waiting for the migration lock: another migration is running${holder}`),
    });
    options.onProgress?.('holding the migration lock');
    try {
      // A dump holds ACCESS SHARE on every table and an old snapshot for hours: an ALTER would queue
      // behind it (and every query behind the ALTER), a CREATE INDEX CONCURRENTLY wait for it.
      const releaseDumps = await acquireDumpExclusion(session.db, {
        timeoutMs: options.dumpWaitTimeoutMs ?? MIGRATION_DEFAULTS.dumpWaitTimeoutMs,
        signal: options.signal,
        onWaiting: (holder) => options.onProgress?.(`waiting for the backup dump of this database to finish${holder}`),
      });
      try {
        await ensureStateTables(session.db, session.schema);
        return await fn(session.db, session.schema);
      } finally {
        await releaseDumps().catch(() => undefined);
      }
    } finally {
      // When the connection is gone, so is the lock.
      await release().catch(() => undefined);
    }
  } finally {
    await session.close();
  }
}

async function readStatus(db: pg.ClientBase, schema: string, migrations: readonly Migration[]): Promise<MigrationStatusReport> {
  // One connection runs one query at a time: sequential on purpose.
  const state = await readSchemaState(db, schema);
  const appliedChecksums = await readAppliedChecksums(db, schema);
  const lastFailure = await readLastFailure(db, schema);
  return describeStatus(migrations, state, appliedChecksums, lastFailure);
}

export function stateOf(status: MigrationStatusReport): SchemaState {
  return { version: status.currentVersion, isDirty: status.isDirty };
}

// ---------------------------------------------------------------- actions

/** Reads the state without taking the lock or creating anything: safe on a read-only connection. */
export async function inspectDatabase(options: MigratorOptions): Promise<MigrationStatusReport> {
  const session = await openSession(options.connectionString, options.signal);
  try {
    return await readStatus(session.db, session.schema, options.migrations);
  } finally {
    await session.close();
  }
}

export async function applyPending(options: MigratorOptions, toVersion: number | undefined, record: RunRecord): Promise<MigrationRunOutcome> {
  return withMigrationLock(options, golangMigrateLockKey, async (db, schema) => {
    const before = await readStatus(db, schema, options.migrations);
    assertSafeToMigrate(before);
    return runSteps({ db, schema }, options, planApply(options.migrations, stateOf(before), toVersion), record);
  });
}

export async function rollBack(options: MigratorOptions, target: RollbackTarget, record: RunRecord): Promise<MigrationRunOutcome> {
  return withMigrationLock(options, golangMigrateLockKey, async (db, schema) => {
    const before = await readStatus(db, schema, options.migrations);
    assertSafeToMigrate(before);
    return runSteps({ db, schema }, options, planRollback(options.migrations, stateOf(before), target), record);
  });
}

/** Records a version as applied and clean without running anything: the way out of a dirty state. */
export async function forceVersion(options: MigratorOptions, version: number, record: RunRecord): Promise<MigrationStatusReport> {
  assertForceTarget(options.migrations, version);
  return withMigrationLock(options, golangMigrateLockKey, async (db, schema) => {
    const migration = options.migrations.find((m) => m.version === version);
    const startedAt = new Date();
    await inTransaction(db, async () => {
      await writeSchemaState(db, { version, isDirty: false }, schema);
      await recordHistory(db, {
        ...record, version, name: migration?.name ?? '(none applied)', direction: 'force', isSucceeded: true,
        checksum: migration?.up.checksum, durationMs: Date.now() - startedAt.getTime(), startedAt,
      }, schema);
    });
    options.onProgress?.(`forced version ${version}`);
    return readStatus(db, schema, options.migrations);
  });
}

// ---------------------------------------------------------------- running steps

/** The migrator's connection and the schema of its state tables. */
interface StateSession {
  db: pg.ClientBase;
  schema: string;
}

async function runSteps(session: StateSession, options: MigratorOptions, steps: MigrationStep[], record: RunRecord): Promise<MigrationRunOutcome> {
  const { db, schema } = session;
  // Every file is checked before the first one runs, so a bad file late in the plan changes nothing.
  const prepared = steps.map((step) => ({ step, statements: executableStatements(step.script) }));
  const appliedVersions: number[] = [];
  const rolledBackVersions: number[] = [];
  for (const { step, statements } of prepared) {
    options.onProgress?.(`${step.direction === 'up' ? 'applying' : 'rolling back'} ${migrationLabel(step.migration)}`);
    const startedAt = new Date();
    const historyEntry = (isSucceeded: boolean, error?: string): HistoryEntry => ({
      ...record, version: step.migration.version, name: step.migration.name, direction: step.direction, isSucceeded,
      checksum: step.script.checksum, durationMs: Date.now() - startedAt.getTime(), startedAt, error,
    });
    try {
      await startMigrationSession(db, options);
      await runStep(session, options, step, statements, () => historyEntry(true));
    } catch (err) {
      const reason = describeDatabaseError(err, step, statements);
      await recordHistory(db, historyEntry(false, reason), schema).catch(() => undefined);
      throw await stepFailure(session, options, step, reason, { appliedVersions, rolledBackVersions });
    }
    (step.direction === 'up' ? appliedVersions : rolledBackVersions).push(step.migration.version);
  }
  return { ran: steps.map(toPlannedMigration), appliedVersions, rolledBackVersions, status: await readStatus(db, schema, options.migrations) };
}

/**
 * Each migration starts from a clean session: a SET search_path or session_replication_role in the
 * previous one does not leak into it. RESET ALL, not DISCARD ALL, which would drop the advisory lock.
 */
async function startMigrationSession(db: pg.ClientBase, options: MigratorOptions): Promise<void> {
  const lockTimeoutMs = options.statementLockTimeoutMs ?? MIGRATION_DEFAULTS.statementLockTimeoutMs;
  const statementTimeoutMs = options.statementTimeoutMs ?? MIGRATION_DEFAULTS.statementTimeoutMs;
  await db.query(`reset all; reset role; set lock_timeout = ${Math.round(lockTimeoutMs)}; set statement_timeout = ${Math.round(statementTimeoutMs)}`);
}

async function runStep(session: StateSession, options: MigratorOptions, step: MigrationStep, statements: string[], succeeded: () => HistoryEntry): Promise<void> {
  const { db, schema } = session;
  const recordSuccess = async () => {
    await writeSchemaState(db, { version: step.versionAfter, isDirty: false }, schema);
    await recordHistory(db, succeeded(), schema);
  };
  const label = migrationLabel(step.migration);
  if (step.script.isTransactional) {
    await retryingLockTimeouts(options, label, () => inTransaction(db, async () => {
      await runStatements(db, statements);
      await recordSuccess();
    }));
    return;
  }
  // golang-migrate's marker while a migration runs: the target version, dirty (truncate and insert, atomically).
  await inTransaction(db, () => writeSchemaState(db, { version: step.direction === 'up' ? step.migration.version : step.versionAfter, isDirty: true }, schema));
  // Outside a transaction each statement commits on its own: the one that timed out had no effect, so it alone is retried.
  for (const [index, statement] of statements.entries()) {
    await retryingLockTimeouts(options, label, () => runStatements(db, [statement], index));
  }
  await inTransaction(db, recordSuccess);
}

/** lock_not_available: the statement gave up waiting for its lock (lock_timeout). */
const LOCK_NOT_AVAILABLE = '55P03';

async function retryingLockTimeouts(options: MigratorOptions, label: string, fn: () => Promise<void>): Promise<void> {
  const retries = options.lockRetries ?? MIGRATION_DEFAULTS.lockRetries;
  let delayMs = options.lockRetryDelayMs ?? MIGRATION_DEFAULTS.lockRetryDelayMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const code = ((err instanceof StatementFailed ? err.cause : err) as { code?: string }).code;
      if (code !== LOCK_NOT_AVAILABLE || attempt >= retries) throw err;
      options.onProgress?.(`${label}: lock_timeout (${options.statementLockTimeoutMs ?? MIGRATION_DEFAULTS.statementLockTimeoutMs} ms) reached behind another session's lock; `
        + `nothing changed, retrying in ${delayMs} ms (${attempt + 1} of ${retries})`);
      await sleep(delayMs, undefined, { signal: options.signal });
      delayMs = Math.min(delayMs * 2, 30_000);
    }
  }
}

/** A statement of a migration that PostgreSQL refused; `cause` is PostgreSQL's error. */
class StatementFailed extends Error {
  constructor(readonly statement: string, readonly statementNumber: number, override readonly cause: unknown) {
    super((cause as Error)?.message ?? String(cause));
  }
}

async function runStatements(db: pg.ClientBase, statements: string[], firstIndex = 0): Promise<void> {
  for (const [index, statement] of statements.entries()) {
    try {
      await db.query(statement);
    } catch (err) {
      throw new StatementFailed(statement, firstIndex + index + 1, err);
    }
  }
}

async function inTransaction(db: pg.ClientBase, fn: () => Promise<void>): Promise<void> {
  await db.query('begin');
  try {
    await fn();
    await db.query('commit');
  } catch (err) {
    await db.query('rollback').catch(() => undefined);
    throw err;
  }
}

async function stepFailure({ db, schema }: StateSession, options: MigratorOptions, step: MigrationStep, reason: string,
  done: { appliedVersions: number[]; rolledBackVersions: number[] }): Promise<MigrationError> {
  const label = `${migrationLabel(step.migration)} (${step.direction})`;
  if (step.script.isTransactional) {
    const state = await readSchemaState(db, schema).catch(() => undefined);
    const where = state ? ` The database is unchanged by it, at version ${state.version}.` : '';
    return new MigrationError('failed', `Migration ${label} failed and was rolled back: ${reason}.${where}`,
      { ...done, failedVersion: step.migration.version, isDirty: false });
  }
  const status = await readStatus(db, schema, options.migrations).catch(() => undefined);
  const recovery = status?.recovery ?? recoveryGuide(options.migrations, { version: step.migration.version, isDirty: true });
  return new MigrationError('failed', `Migration ${label} failed part-way outside a transaction: ${reason}. The database is now DIRTY.\n${recovery}`,
    { ...done, failedVersion: step.migration.version, isDirty: true, recovery });
}

/** PostgreSQL's message, with where in the file it happened. */
function describeDatabaseError(err: unknown, step: MigrationStep, statements: string[]): string {
  const failure = err instanceof StatementFailed ? err : undefined;
  const e = (failure?.cause ?? err) as { message?: string; code?: string; position?: string; detail?: string };
  if (e.code === '57014' && !/statement timeout/.test(e.message ?? '')) return 'cancelled while running';
  const parts = [e.message ?? String(err)];
  if (e.detail) parts.push(e.detail);
  if (failure) {
    const line = lineInFile(step.script.sql, failure.statement, e.position);
    const where = statements.length > 1 ? `statement ${failure.statementNumber} of ${statements.length}` : '';
    parts.push(`at ${[where, line ? `line ${line}` : ''].filter(Boolean).join(', ') || 'the statement'} of ${step.script.fileName}`);
  }
  return parts.join('; ');
}

/** PostgreSQL reports a 1-based character position in the statement; the statement is a slice of the file. */
function lineInFile(fileSql: string, statement: string, position: string | undefined): number | undefined {
  const offset = fileSql.indexOf(statement);
  if (offset < 0) return undefined;
  const positionInStatement = position ? Number(position) - 1 : statement.search(/\S/);
  return fileSql.slice(0, offset + Math.max(0, positionInStatement)).split('\n').length;
}
