// The cluster's globals stored with each backup: `pg_dumpall --globals-only --no-role-passwords`
// (roles, their attributes, settings and memberships; tablespaces), from the same client bin
// directory as the backup's pg_dump. A dump's owners and grantees are roles, and roles are not in a
// database's dump: a disaster recovery onto a new cluster needs them first. Restoring them is asked
// for explicitly, creates only the roles the server lacks, and reports what it did with each.
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { PermanentError, permanentFailure } from '../../lib/errors.js';
import { runCommand } from '../../lib/process.js';
import { splitSqlSegments } from '../migrations/sqlStatements.js';
import type { BackupManifest } from './catalog.js';
import { pgErrorOf } from './pgTools.js';
import { readText, writeText, type BackupStorage } from './storage.js';
import type { GlobalsRestoreReport } from '../../lib/globalsRestore.js';

export interface StoredGlobals {
  key: string;
  location: string;
  sha256: string;
  sizeBytes: number;
  /** The roles it defines, for listings. */
  roles: string[];
}

export function globalsKey(series: string, backupId: string): string {
  return `${series}${backupId}.globals.sql`;
}

const GLOBALS_TIMEOUT_MS = 10 * 60_000;

/** Runs pg_dumpall and stores its output; the caller records the result in the manifest. */
export async function captureGlobals(options: { pgDumpall: string; env: Record<string, string>; database: string; storage: BackupStorage; key: string; signal?: AbortSignal }): Promise<StoredGlobals> {
  // --database: the connection pg_dumpall makes, to the database being backed up (a managed server may refuse `postgres`).
  const result = await runCommand(options.pgDumpall, ['--globals-only', '--no-role-passwords', '--no-password', `--database=${options.database}`], {
    env: options.env, timeoutMs: GLOBALS_TIMEOUT_MS, signal: options.signal,
  });
  if (result.exitCode !== 0 || result.isTimedOut || result.isCancelled) {
    throw new Error(`pg_dumpall --globals-only failed: ${pgErrorOf(result.stderr) || (result.isTimedOut ? 'timed out' : `exit code ${result.exitCode ?? result.signal}`)}`);
  }
  await writeText(options.storage, options.key, result.stdout);
  const bytes = Buffer.from(result.stdout, 'utf8');
  return {
    key: options.key,
    location: options.storage.locationOf(options.key),
    sha256: createHash('sha256').update(bytes).digest('hex'),
    sizeBytes: bytes.length,
    roles: parseGlobals(result.stdout).roles.map((role) => role.name),
  };
}

/** The stored globals, checked against the manifest's checksum. */
export async function readStoredGlobals(manifest: BackupManifest, storage: BackupStorage): Promise<string> {
  const globals = manifest.globals;
  if (!globals) {
    throw permanentFailure(PermanentError.InvalidInput, `backup ${manifest.backupId} has no stored globals (taken before they were stored${manifest.globalsError ? `, or pg_dumpall failed: ${manifest.globalsError}` : ''})`);
  }
  const text = await readText(storage, globals.key);
  const sha256 = createHash('sha256').update(Buffer.from(text, 'utf8')).digest('hex');
  if (sha256 !== globals.sha256) {
    throw permanentFailure(PermanentError.BackupChecksumMismatch, `the stored globals of ${manifest.backupId} read back as sha256 ${sha256.slice(0, 12)}…; they were written as ${globals.sha256.slice(0, 12)}…`);
  }
  return text;
}

// ---------------------------------------------------------------- parsing

interface RoleDefinition {
  name: string;
  /** CREATE ROLE, then its ALTER ROLE (attributes, settings) and COMMENT statements, in order. */
  statements: string[];
}

interface ParsedGlobals {
  roles: RoleDefinition[];
  memberships: Array<{ role: string; member: string; statement: string }>;
  /** What restoring roles does not apply (tablespaces: their directories belong to the new server). */
  unsupported: string[];
}

const IDENT = String.raw`("(?:[^"]|"")+"|[^\s;"]+)`;
const CREATE_ROLE = new RegExp(String.raw`^CREATE ROLE ${IDENT};$`, 'i');
const ROLE_STATEMENT = new RegExp(String.raw`^(?:ALTER ROLE|COMMENT ON ROLE|SECURITY LABEL FOR \S+ ON ROLE) ${IDENT}\s`, 'i');
const GRANT_ROLE = new RegExp(String.raw`^GRANT ${IDENT} TO ${IDENT}(.*);$`, 'i');

function unquote(identifier: string): string {
  return identifier.startsWith('"') ? identifier.slice(1, -1).replace(/""/g, '"') : identifier;
}

/** pg_dumpall's globals, as statements per role. psql meta-commands (`\restrict`) and SETs are left out. */
export function parseGlobals(sql: string): ParsedGlobals {
  const withoutMetaCommands = sql.split('\n').filter((line) => !line.startsWith('\\')).join('\n');
  const parsed: ParsedGlobals = { roles: [], memberships: [], unsupported: [] };
  const roleNamed = new Map<string, RoleDefinition>();
  for (const segment of splitSqlSegments(withoutMetaCommands)) {
    const statement = segment.text.split('\n').filter((line) => !line.trim().startsWith('--')).join('\n').trim();
    if (!statement || /^SET\s/i.test(statement)) continue;
    const created = CREATE_ROLE.exec(statement);
    if (created) {
      const role = { name: unquote(created[1]!), statements: [statement] };
      roleNamed.set(role.name, role);
      parsed.roles.push(role);
      continue;
    }
    const about = ROLE_STATEMENT.exec(statement);
    if (about && roleNamed.has(unquote(about[1]!))) {
      roleNamed.get(unquote(about[1]!))!.statements.push(statement);
      continue;
    }
    const grant = GRANT_ROLE.exec(statement);
    if (grant) {
      // The grantor becomes whoever restores: the original grantor may not exist, or not be us.
      const options = grant[3]!.replace(/\s+GRANTED BY\s+\S+\s*$/i, '');
      parsed.memberships.push({ role: unquote(grant[1]!), member: unquote(grant[2]!), statement: `GRANT ${grant[1]} TO ${grant[2]}${options};` });
      continue;
    }
    parsed.unsupported.push(statement.split('\n')[0]!.slice(0, 200));
  }
  return parsed;
}

// ---------------------------------------------------------------- restoring

/**
 * Creates each role of the stored globals that the server lacks, with its attributes, settings and
 * comment, each role in its own transaction; then the memberships that involve a role it created.
 * An existing role is never altered. Roles come back without passwords (--no-role-passwords).
 */
export async function applyGlobals(client: pg.Client, sql: string): Promise<GlobalsRestoreReport> {
  const parsed = parseGlobals(sql);
  const { rows } = await client.query<{ rolname: string }>('select rolname from pg_roles');
  const existingRoles = new Set(rows.map((row) => row.rolname));
  const report: GlobalsRestoreReport = { created: [], existing: [], failed: [], memberships: [], skipped: parsed.unsupported };
  for (const role of parsed.roles) {
    if (existingRoles.has(role.name)) {
      report.existing.push(role.name);
      continue;
    }
    try {
      await client.query('begin');
      for (const statement of role.statements) await client.query(statement);
      await client.query('commit');
      report.created.push(role.name);
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      report.failed.push({ role: role.name, reason: (err as Error).message });
    }
  }
  const created = new Set(report.created);
  for (const membership of parsed.memberships) {
    if (!created.has(membership.role) && !created.has(membership.member)) continue;
    try {
      await client.query(membership.statement);
      report.memberships.push(`${membership.role} → ${membership.member}`);
    } catch (err) {
      report.failed.push({ role: membership.member, reason: `membership in ${membership.role}: ${(err as Error).message}` });
    }
  }
  return report;
}
