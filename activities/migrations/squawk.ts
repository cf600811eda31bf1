// Lints migration files with squawk (https://squawkhq.com), a maintained PostgreSQL migration linter
// with PostgreSQL's grammar, through its JSON reporter; lib/migrationSafety.ts decides what its rules
// mean to Flightdeck. squawk comes from PyPI's squawk-cli wheel: scripts/squawk.sh (npm run setup)
// and the Dockerfile install it.
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { childProcessEnv } from '../../lib/config.js';
import {
  boundStatement, categoriesOfRule, fixForRule, type MigrationFinding,
} from '../../lib/migrationSafety.js';
import { runCommand } from '../../lib/process.js';
import { cutLine, redactText } from '../../lib/redact.js';
import { MigrationError } from './errors.js';
import { migrationLabel, type Migration } from './plan.js';
import { splitSqlSegments } from './sqlStatements.js';

/** The version scripts/squawk.sh and the Dockerfile install; its rule ids are the ones lib/migrationSafety.ts maps. */
export const SQUAWK_VERSION = '2.70.0';

const SQUAWK_TIMEOUT_MS = 60_000;

const squawkViolation = z.object({
  line: z.number().int().min(0),
  column: z.number().int().min(0),
  level: z.string(),
  message: z.string(),
  help: z.string().nullish(),
  rule_name: z.string(),
});
const squawkReport = z.array(squawkViolation);
type SquawkViolation = z.infer<typeof squawkViolation>;

export class SquawkMissing extends Error {
  constructor(squawkPath: string) {
    super(`squawk, the migration linter, was not found (${squawkPath}): run \`npm run setup\` (installs squawk-cli ${SQUAWK_VERSION} into ~/.cache/flightdeck), `
      + `\`pip install squawk-cli==${SQUAWK_VERSION}\`, or set SQUAWK_PATH to a squawk binary.`);
    this.name = 'SquawkMissing';
  }
}

/** The squawk binary: an explicit path, else the first `squawk` on PATH. */
export function findSquawk(squawkPath: string, searchPath = process.env.PATH ?? ''): string {
  const candidates = squawkPath.includes('/') ? [squawkPath] : searchPath.split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, squawkPath));
  const found = candidates.find((candidate) => isExecutable(candidate));
  if (!found) throw new SquawkMissing(squawkPath);
  return found;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The findings of the up scripts of these migrations, in file order; safe migrations give none. */
export async function lintMigrations(squawkPath: string, migrations: readonly Migration[], signal?: AbortSignal): Promise<MigrationFinding[]> {
  const binary = findSquawk(squawkPath);
  const findings: MigrationFinding[] = [];
  for (const migration of migrations) {
    const violations = await runSquawk(binary, migration.up.fileName, migration.up.sql, migration.up.isTransactional, signal);
    findings.push(...violations.flatMap((violation) => toFindings(migration, violation)));
  }
  return findings;
}

async function runSquawk(binary: string, fileName: string, sql: string, isTransactional: boolean, signal?: AbortSignal): Promise<SquawkViolation[]> {
  // A transactional migration runs inside Flightdeck's transaction: squawk then knows that
  // CONCURRENTLY would fail and that a statement's lock is held until the migration ends.
  const args = ['--reporter', 'json', '--stdin-filepath', fileName, ...(isTransactional ? ['--assume-in-transaction'] : [])];
  const result = await runCommand(binary, args, { env: childProcessEnv(), stdin: sql, timeoutMs: SQUAWK_TIMEOUT_MS, signal });
  // squawk exits 1 when it found something, 0 when the file is clean: the JSON on stdout is the answer either way.
  let parsed: unknown;
  try {
    parsed = JSON.parse(result.stdout || '[]');
  } catch {
    parsed = undefined;
  }
  const report = squawkReport.safeParse(parsed);
  if (result.exitCode === undefined || result.exitCode > 1 || !report.success) {
    const reason = result.isTimedOut ? `timed out after ${SQUAWK_TIMEOUT_MS / 1000} s` : `exit ${result.exitCode ?? result.signal}`;
    throw new MigrationError('invalid', `squawk could not lint ${fileName} (${reason}): ${cutLine(redactText(result.stderr.trim() || result.stdout.trim()), 500)}`);
  }
  return report.data;
}

function toFindings(migration: Migration, violation: SquawkViolation): MigrationFinding[] {
  const categories = categoriesOfRule(violation.rule_name);
  if (categories.length === 0) return [];
  const { line, statement } = statementAt(migration.up.sql, violation.line, violation.column);
  const why = violation.help ? `${violation.message} ${violation.help}` : violation.message;
  return categories.map((category) => ({
    migration: migrationLabel(migration),
    version: migration.version,
    fileName: migration.up.fileName,
    line,
    statement: boundStatement(redactText(statement)),
    rule: violation.rule_name,
    category,
    why,
    fix: fixForRule(violation.rule_name, category),
  }));
}

/** The statement holding squawk's (0-based) position, and the 1-based line it starts on. */
export function statementAt(sql: string, line: number, column: number): { line: number; statement: string } {
  const offset = offsetOf(sql, line, column);
  let start = 0;
  for (const segment of splitSqlSegments(sql)) {
    const end = start + segment.text.length;
    if (offset < end) {
      const leading = segment.text.length - segment.text.trimStart().length;
      const withoutComments = stripLeadingComments(segment.text.trimStart());
      const firstLine = sql.slice(0, start + leading + (segment.text.trimStart().length - withoutComments.length)).split('\n').length;
      return { line: firstLine, statement: withoutComments.trim() };
    }
    start = end;
  }
  return { line: line + 1, statement: sql.split('\n')[line] ?? '' };
}

function offsetOf(sql: string, line: number, column: number): number {
  let offset = 0;
  for (let current = 0; current < line; current++) {
    const newline = sql.indexOf('\n', offset);
    if (newline < 0) return sql.length;
    offset = newline + 1;
  }
  return offset + column;
}

function stripLeadingComments(text: string): string {
  let rest = text;
  for (;;) {
    const trimmed = rest.trimStart();
    if (trimmed.startsWith('--')) {
      const newline = trimmed.indexOf('\n');
      rest = newline < 0 ? '' : trimmed.slice(newline + 1);
    } else if (trimmed.startsWith('/*')) {
      const close = trimmed.indexOf('*/');
      rest = close < 0 ? '' : trimmed.slice(close + 2);
    } else {
      return trimmed;
    }
  }
}
