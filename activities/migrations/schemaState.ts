// The two tables a migrated database keeps. schema_migrations is golang-migrate's, kept exactly as it
// writes it (one row: the current version and whether it is dirty), so a team can switch tools
// either way. flightdeck_migration_history is Flightdeck's own record of every run.
import type pg from 'pg';
import { NO_VERSION, type AppliedChecksums, type LastFailure, type SchemaState } from './plan.js';

export const STATE_TABLE = 'schema_migrations';
export const HISTORY_TABLE = 'flightdeck_migration_history';

/** golang-migrate's "no version" marker, stored only together with dirty = true. */
const GOLANG_MIGRATE_NIL_VERSION = -1;

export type HistoryDirection = 'up' | 'down' | 'force' | 'command';

export interface HistoryEntry {
  /** Absent for a custom migration command, whose versions Flightdeck cannot see. */
  version?: number;
  name: string;
  direction: HistoryDirection;
  isSucceeded: boolean;
  checksum?: string;
  durationMs: number;
  ranBy: string;
  workflowId?: string;
  releaseVersion?: string;
  backupId?: string;
  error?: string;
  startedAt: Date;
}

/**
 * The schema the state tables live in: the session's current schema when the run started (as
 * golang-migrate decides), captured once, so a migration that changes search_path cannot move them.
 */
export async function stateSchemaOf(db: pg.ClientBase): Promise<string> {
  const { rows } = await db.query<{ schema: string | null }>('select current_schema() as schema');
  return rows[0]?.schema ?? 'public';
}

async function tablesOf(db: pg.ClientBase, schema: string | undefined): Promise<{ state: string; history: string }> {
  const qualifier = db.escapeIdentifier(schema ?? await stateSchemaOf(db));
  return { state: `${qualifier}.${STATE_TABLE}`, history: `${qualifier}.${HISTORY_TABLE}` };
}

/** Creates both tables if absent. Call only while holding the migration lock. */
export async function ensureStateTables(db: pg.ClientBase, schema?: string): Promise<void> {
  const tables = await tablesOf(db, schema);
  await db.query(`create table if not exists ${tables.state} (version bigint not null primary key, dirty boolean not null)`);
  await db.query(`create table if not exists ${tables.history} (
    id bigserial primary key,
    version bigint,
    name text not null,
    direction text not null check (direction in ('up', 'down', 'force', 'command')),
    status text not null check (status in ('succeeded', 'failed')),
    checksum text,
    duration_ms integer not null,
    ran_by text not null,
    workflow_id text,
    release_version text,
    backup_id text,
    error text,
    started_at timestamptz not null,
    finished_at timestamptz not null default now()
  )`);
}

async function tableExists(db: pg.ClientBase, table: string): Promise<boolean> {
  const { rows } = await db.query<{ exists: boolean }>('select to_regclass($1) is not null as exists', [table]);
  return rows[0]!.exists;
}

/** The recorded version; a database that never ran a migration is at NO_VERSION, clean. */
export async function readSchemaState(db: pg.ClientBase, schema?: string): Promise<SchemaState> {
  const tables = await tablesOf(db, schema);
  if (!(await tableExists(db, tables.state))) return { version: NO_VERSION, isDirty: false };
  const { rows } = await db.query<{ version: string; dirty: boolean }>(`select version, dirty from ${tables.state} limit 1`);
  const row = rows[0];
  if (!row) return { version: NO_VERSION, isDirty: false };
  const version = Number(row.version);
  return { version: version < NO_VERSION ? NO_VERSION : version, isDirty: row.dirty };
}

/**
 * Writes the state the way golang-migrate's postgres driver does: truncate, then at most one row.
 * Call inside a transaction (as golang-migrate's SetVersion does): a failure between the two must
 * not leave the table empty, which reads as version 0 and clean.
 */
export async function writeSchemaState(db: pg.ClientBase, state: SchemaState, schema?: string): Promise<void> {
  const tables = await tablesOf(db, schema);
  await db.query(`truncate ${tables.state}`);
  if (state.version !== NO_VERSION) {
    await db.query(`insert into ${tables.state} (version, dirty) values ($1, $2)`, [state.version, state.isDirty]);
  } else if (state.isDirty) {
    await db.query(`insert into ${tables.state} (version, dirty) values ($1, true)`, [GOLANG_MIGRATE_NIL_VERSION]);
  }
}

export async function recordHistory(db: pg.ClientBase, entry: HistoryEntry, schema?: string): Promise<void> {
  const tables = await tablesOf(db, schema);
  await db.query(
    `insert into ${tables.history} (version, name, direction, status, checksum, duration_ms, ran_by, workflow_id, release_version, backup_id, error, started_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
    [entry.version ?? null, entry.name, entry.direction, entry.isSucceeded ? 'succeeded' : 'failed', entry.checksum ?? null, Math.round(entry.durationMs),
      entry.ranBy, entry.workflowId ?? null, entry.releaseVersion ?? null, entry.backupId ?? null, entry.error ?? null, entry.startedAt],
  );
}

/** For each version whose latest successful run applied it (up or force): the file's checksum then. */
export async function readAppliedChecksums(db: pg.ClientBase, schema?: string): Promise<AppliedChecksums> {
  const tables = await tablesOf(db, schema);
  if (!(await tableExists(db, tables.history))) return new Map();
  const { rows } = await db.query<{ version: string; direction: HistoryDirection; checksum: string | null }>(
    `select distinct on (version) version, direction, checksum from ${tables.history}
     where status = 'succeeded' and version is not null and direction in ('up', 'down', 'force')
     order by version, id desc`,
  );
  return new Map(rows
    .filter((row) => row.direction !== 'down' && row.checksum)
    .map((row) => [Number(row.version), row.checksum!]));
}

export async function readLastFailure(db: pg.ClientBase, schema?: string): Promise<LastFailure | undefined> {
  const tables = await tablesOf(db, schema);
  if (!(await tableExists(db, tables.history))) return undefined;
  const { rows } = await db.query<{ version: string; name: string; direction: 'up' | 'down'; error: string | null }>(
    `select version, name, direction, error from ${tables.history}
     where status = 'failed' and direction in ('up', 'down') order by id desc limit 1`,
  );
  const row = rows[0];
  return row ? { version: Number(row.version), name: row.name, direction: row.direction, error: row.error ?? 'unknown error' } : undefined;
}
