// The migrator's decisions, as pure functions the CLI and API can reuse: which files form the
// migrations, what the database's state means, what an apply or a rollback would run, and whether
// it is safe to. No I/O here (hashing a string is not I/O).
//
// Files follow golang-migrate's convention, NNNN_name.up.sql / NNNN_name.down.sql, with numeric or
// timestamp versions; the state is golang-migrate's single row (version, dirty).
import { createHash } from 'node:crypto';
import type { MigrationDrift, MigrationRef, MigrationStatusReport, PlannedMigration } from '../../lib/messages.js';
import { redactText } from '../../lib/redact.js';
import { MigrationError } from './errors.js';
import { isTransactionControl, splitSqlSegments, sqlStatements } from './sqlStatements.js';

/** The version of a database with no migration applied (golang-migrate stores no row, or -1). */
export const NO_VERSION = 0;

/** A first line that opts a migration out of its transaction (needed for CREATE INDEX CONCURRENTLY). */
export const NO_TRANSACTION_MARKER = '-- flightdeck:no-transaction';

export interface MigrationScript {
  fileName: string;
  sql: string;
  /** SHA-256 of the file, hex. */
  checksum: string;
  isTransactional: boolean;
}

export interface Migration extends MigrationRef {
  up: MigrationScript;
  down?: MigrationScript;
}

export interface SchemaState {
  version: number;
  isDirty: boolean;
}

/** The checksum each version had when it was last applied, from the history table. */
export type AppliedChecksums = ReadonlyMap<number, string>;

/** The most recent failed run in the history, to explain a dirty database. */
export interface LastFailure extends MigrationRef {
  direction: 'up' | 'down';
  error: string;
}

export interface MigrationStep {
  migration: Migration;
  direction: 'up' | 'down';
  script: MigrationScript;
  /** The version schema_migrations holds once this step has run. */
  versionAfter: number;
}

// ---------------------------------------------------------------- the files

const FILE_NAME = /^(\d+)_(.*)\.(up|down)\.sql$/;

export function parseMigrationFileName(fileName: string): { version: number; name: string; direction: 'up' | 'down' } | undefined {
  const match = FILE_NAME.exec(fileName);
  if (!match) return undefined;
  return { version: Number(match[1]), name: match[2]!, direction: match[3] as 'up' | 'down' };
}

export function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export function isNonTransactional(sql: string): boolean {
  const firstLine = sql.replace(/^\uFEFF/, '').split('\n', 1)[0]!.trim().toLowerCase();
  return firstLine === NO_TRANSACTION_MARKER;
}

function toScript(fileName: string, sql: string): MigrationScript {
  return { fileName, sql, checksum: sha256(sql), isTransactional: !isNonTransactional(sql) };
}

/** The migrations of a folder's files, oldest first. Other files (README, seeds) are ignored. */
export function buildMigrations(files: ReadonlyArray<{ fileName: string; sql: string }>): Migration[] {
  const byVersion = new Map<number, { name: string; up?: MigrationScript; down?: MigrationScript }>();
  const problems: string[] = [];
  for (const file of files) {
    const parsed = parseMigrationFileName(file.fileName);
    if (!parsed) continue;
    if (!Number.isSafeInteger(parsed.version) || parsed.version <= NO_VERSION) {
      problems.push(`${file.fileName}: the version must be a whole number from 1 to ${Number.MAX_SAFE_INTEGER}`);
      continue;
    }
    const entry = byVersion.get(parsed.version) ?? { name: parsed.name };
    if (entry[parsed.direction]) problems.push(`${file.fileName}: version ${parsed.version} has two ${parsed.direction} files (${entry[parsed.direction]!.fileName})`);
    entry[parsed.direction] = toScript(file.fileName, file.sql);
    byVersion.set(parsed.version, entry);
  }
  for (const [version, entry] of byVersion) {
    if (!entry.up) problems.push(`version ${version} has a down file (${entry.down!.fileName}) but no up file`);
  }
  if (problems.length) throw new MigrationError('invalid', `The migrations folder is not valid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  return [...byVersion.entries()]
    .map(([version, entry]) => ({ version, name: entry.name, up: entry.up!, down: entry.down }))
    .sort((a, b) => a.version - b.version);
}

/**
 * The statements to send for a script: a transactional file goes as one query inside Flightdeck's
 * transaction; a non-transactional one statement by statement (PostgreSQL runs a multi-statement
 * query in an implicit transaction, where CREATE INDEX CONCURRENTLY is refused).
 */
export function executableStatements(script: MigrationScript): string[] {
  if (!script.isTransactional) return sqlStatements(script.sql).map((segment) => segment.text);
  return [transactionBody(script)];
}

/**
 * golang-migrate runs files without a transaction, so many wrap themselves in BEGIN … COMMIT.
 * Flightdeck already gives each file a transaction: it drops that outer wrapper, and refuses any
 * other transaction control, which would commit half a migration.
 */
function transactionBody(script: MigrationScript): string {
  const segments = splitSqlSegments(script.sql);
  const statementIndexes = segments.flatMap((segment, index) => (segment.leadingWords.length ? [index] : []));
  let first = 0;
  let last = segments.length - 1;
  const firstStatement = statementIndexes[0];
  const lastStatement = statementIndexes.at(-1);
  if (firstStatement !== undefined && lastStatement !== undefined && firstStatement !== lastStatement
    && opensTransaction(segments[firstStatement]!.leadingWords) && closesTransaction(segments[lastStatement]!.leadingWords)) {
    first = firstStatement + 1;
    last = lastStatement - 1;
  }
  const body = segments.slice(first, last + 1);
  const control = body.find(isTransactionControl);
  if (control) {
    throw new MigrationError('invalid', `${script.fileName}: "${control.leadingWords.join(' ')}" inside the migration would end Flightdeck's transaction part-way. `
      + `Remove it (each migration already runs in its own transaction), or make "${NO_TRANSACTION_MARKER}" the file's first line.`);
  }
  return body.map((segment) => segment.text).join('');
}

function opensTransaction([first, second]: string[]): boolean {
  return first === 'BEGIN' || (first === 'START' && second === 'TRANSACTION');
}

function closesTransaction([first]: string[]): boolean {
  return first === 'COMMIT' || first === 'END';
}

// ---------------------------------------------------------------- the state

function refOf(migration: MigrationRef): MigrationRef {
  return { version: migration.version, name: migration.name };
}

export function migrationLabel(migration: MigrationRef): string {
  return `${migration.version}_${migration.name}`;
}

function appliedMigrations(migrations: readonly Migration[], state: SchemaState): Migration[] {
  return migrations.filter((m) => m.version <= state.version);
}

/** Applied migrations whose file changed since it ran, or is gone. */
export function findDrift(migrations: readonly Migration[], state: SchemaState, appliedChecksums: AppliedChecksums): MigrationDrift[] {
  const byVersion = new Map(migrations.map((m) => [m.version, m]));
  const drift: MigrationDrift[] = [];
  const missingVersions = new Set<number>();
  for (const [version, checksum] of [...appliedChecksums].sort(([a], [b]) => a - b)) {
    if (version > state.version) continue;
    const migration = byVersion.get(version);
    if (!migration) {
      missingVersions.add(version);
      drift.push({ version, name: '?', problem: 'missing', detail: `version ${version} was applied, but its .up.sql file is no longer in the migrations folder` });
    } else if (migration.up.checksum !== checksum) {
      drift.push({ ...refOf(migration), problem: 'changed', detail: `${migration.up.fileName} changed after it was applied (sha256 ${checksum.slice(0, 12)}… then, ${migration.up.checksum.slice(0, 12)}… now)` });
    }
  }
  drift.push(...findLateMerged(migrations, state, appliedChecksums));
  if (state.version !== NO_VERSION && !byVersion.has(state.version) && !missingVersions.has(state.version)) {
    drift.push({ version: state.version, name: '?', problem: 'missing', detail: `the database is at version ${state.version}, but no file of that version is in the migrations folder` });
  }
  return drift;
}

/**
 * Migrations merged late: below the current version, never applied, yet above one that Flightdeck
 * applied (so they were not simply applied before Flightdeck kept a history). Counting them as
 * applied would skip them silently; they need a decision.
 */
function findLateMerged(migrations: readonly Migration[], state: SchemaState, appliedChecksums: AppliedChecksums): MigrationDrift[] {
  const appliedVersions = [...appliedChecksums.keys()];
  if (appliedVersions.length === 0) return [];
  const lowestApplied = Math.min(...appliedVersions);
  return migrations
    .filter((m) => m.version < state.version && m.version > lowestApplied && !appliedChecksums.has(m.version))
    .map((m) => ({
      ...refOf(m), problem: 'unapplied' as const,
      detail: `${m.up.fileName} was never applied, but the database is already at version ${state.version}: it was merged after later migrations ran. `
        + `Give it a version above ${state.version} (rename the file) so it runs next, or apply its SQL by hand and remove the file`,
    }));
}

export function describeDrift(drift: readonly MigrationDrift[]): string {
  const isEdited = drift.some((d) => d.problem !== 'unapplied');
  return `Migration drift: the migrations in the folder no longer match what was applied.\n${drift.map((d) => `  - ${d.detail}`).join('\n')}\n`
    + (isEdited ? 'Never edit or delete an applied migration: restore the file as it was, and put the change in a new migration.' : 'Nothing is applied past a skipped migration without that decision.');
}

/** How to get a dirty database going again, naming the migration that failed part-way. */
export function recoveryGuide(migrations: readonly Migration[], state: SchemaState, lastFailure?: LastFailure): string {
  const versionBelow = (version: number) => [...migrations].reverse().find((m) => m.version < version)?.version ?? NO_VERSION;
  // golang-migrate's convention, which we keep: a failed up leaves the dirty version at the migration
  // itself, a failed down at the version below it.
  const isFailedDown = lastFailure?.direction === 'down';
  const versionIfCompleted = state.version;
  const versionIfUndone = isFailedDown ? lastFailure!.version : versionBelow(state.version);
  const failed = lastFailure
    ? `${isFailedDown ? 'the down migration of ' : ''}${migrationLabel(lastFailure)} failed part-way: ${lastFailure.error}`
    : 'a migration failed part-way (Flightdeck has no history of it)';
  return `The database is dirty at version ${state.version}: ${failed}. It ran outside a transaction, so some of its statements may have taken effect.\n`
    + 'To recover: 1) look at the database, and either finish the remaining statements by hand or undo the ones that ran; '
    + `2) run the force action with forceVersion ${versionIfCompleted} if the migration's changes are now complete, or forceVersion ${versionIfUndone} if they are fully undone `
    + '(and fix the file, if it was wrong); 3) run apply again. Force changes only the recorded version, never the schema.';
}

export function describeStatus(migrations: readonly Migration[], state: SchemaState, appliedChecksums: AppliedChecksums, lastFailure?: LastFailure): MigrationStatusReport {
  return {
    currentVersion: state.version,
    isDirty: state.isDirty,
    applied: appliedMigrations(migrations, state).map(refOf),
    pending: migrations.filter((m) => m.version > state.version).map(refOf),
    drift: findDrift(migrations, state, appliedChecksums),
    recovery: state.isDirty ? recoveryGuide(migrations, state, lastFailure) : undefined,
  };
}

/** Refuses to change a dirty or drifted database: both need a person first. */
export function assertSafeToMigrate(status: MigrationStatusReport): void {
  if (status.isDirty) throw new MigrationError('dirty', status.recovery!, { isDirty: true, recovery: status.recovery });
  if (status.drift.length) throw new MigrationError('drift', describeDrift(status.drift));
}

// ---------------------------------------------------------------- the plans

export function planApply(migrations: readonly Migration[], state: SchemaState, toVersion?: number): MigrationStep[] {
  if (toVersion !== undefined) {
    if (toVersion < state.version) throw new MigrationError('invalid', `The database is at version ${state.version}, past ${toVersion}: going back is the rollback action, never apply.`);
    if (!migrations.some((m) => m.version === toVersion)) throw new MigrationError('invalid', `There is no migration ${toVersion} in the folder.`);
  }
  return migrations
    .filter((m) => m.version > state.version && (toVersion === undefined || m.version <= toVersion))
    .map((migration) => ({ migration, direction: 'up', script: migration.up, versionAfter: migration.version }));
}

export interface RollbackTarget {
  steps?: number;
  /** Undo every migration above this version; 0 undoes them all. */
  toVersion?: number;
}

export function planRollback(migrations: readonly Migration[], state: SchemaState, target: RollbackTarget): MigrationStep[] {
  const newestFirst = appliedMigrations(migrations, state).reverse();
  const toUndo = migrationsToUndo(newestFirst, state, target);
  const withoutDown = toUndo.filter((m) => !m.down);
  if (withoutDown.length) {
    throw new MigrationError('invalid', `Rollback refused: no .down.sql file for ${withoutDown.map(migrationLabel).join(', ')}. `
      + 'Nothing was rolled back. Write the missing down migration(s), or restore from a backup.');
  }
  return toUndo.map((migration, index) => ({
    migration,
    direction: 'down',
    script: migration.down!,
    versionAfter: newestFirst[index + 1]?.version ?? NO_VERSION,
  }));
}

function migrationsToUndo(newestFirst: Migration[], state: SchemaState, { steps, toVersion }: RollbackTarget): Migration[] {
  if ((steps === undefined) === (toVersion === undefined)) {
    throw new MigrationError('invalid', 'A rollback needs exactly one of steps (how many to undo) or toVersion (the version to go back to).');
  }
  if (steps !== undefined) {
    if (!Number.isInteger(steps) || steps < 1) throw new MigrationError('invalid', `steps must be a whole number of at least 1, not ${steps}.`);
    if (steps > newestFirst.length) throw new MigrationError('invalid', `Cannot roll back ${steps} migrations: only ${newestFirst.length} applied.`);
    return newestFirst.slice(0, steps);
  }
  if (toVersion! > state.version) throw new MigrationError('invalid', `The database is at version ${state.version}, below ${toVersion}: going forward is the apply action.`);
  if (toVersion !== NO_VERSION && !newestFirst.some((m) => m.version === toVersion)) {
    throw new MigrationError('invalid', `There is no applied migration ${toVersion} to go back to (0 undoes every migration).`);
  }
  return newestFirst.filter((m) => m.version > toVersion!);
}

/** Force may record only a version the folder knows, or none at all. */
export function assertForceTarget(migrations: readonly Migration[], version: number): void {
  if (version === NO_VERSION || migrations.some((m) => m.version === version)) return;
  throw new MigrationError('invalid', `Cannot force version ${version}: there is no such migration in the folder (0 means none applied).`);
}

/** What a plan shows: the SQL, redacted (a migration may set a role's password), since plans are kept in history. */
export function toPlannedMigration(step: MigrationStep): PlannedMigration {
  return { ...refOf(step.migration), direction: step.direction, isTransactional: step.script.isTransactional, sql: redactText(step.script.sql) };
}
