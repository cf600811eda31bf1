// Migration safety: what a pending migration risks, and what an environment does about it.
// Fly rolls back the image, never the database: a migration is only safe to ship when the busy tables
// stay usable while it runs (lock risk) and the previous image still works with the schema it leaves
// (rollback compatibility). squawk (activities/migrations/squawk.ts) finds the statements; this module
// says which of its rules matter to Flightdeck, in which category, what to do instead, and what the
// environment's policy makes of them.
// Pure and workflow-safe: the pipeline, migrateDatabase, the CLI, the API and Slack all use it.

/** lockRisk: blocks reads or writes on a busy table while it runs. rollbackIncompatible: the previous image may break. */
export type MigrationRiskCategory = 'lockRisk' | 'rollbackIncompatible';

/** warn: report and go on; approve: a person approves the plan with its findings; block: stop before anything changes. */
export type MigrationSafetyAction = 'warn' | 'approve' | 'block';

export type MigrationSafetyPolicy = Record<MigrationRiskCategory, MigrationSafetyAction>;

export const MIGRATION_SAFETY_ACTIONS: readonly MigrationSafetyAction[] = ['warn', 'approve', 'block'];

export interface MigrationFinding {
  /** `<version>_<name>` of the migration. */
  migration: string;
  version: number;
  fileName: string;
  /** 1-based line of the statement in the file. */
  line: number;
  /** The statement, trimmed and bounded (redacted by the activity). */
  statement: string;
  /** squawk's rule id, or flightdeck's own (`flightdeck:…`). */
  rule: string;
  category: MigrationRiskCategory;
  /** Why it is a risk, in the linter's words. */
  why: string;
  /** What to do instead. */
  fix: string;
}

export interface MigrationSafetyReport {
  /** files: the pending SQL files were linted; command: the app's own migrate command, not analysable; none: nothing pending. */
  mode: 'files' | 'command' | 'none';
  /** The linter and version, e.g. "squawk 2.70.0". */
  linter?: string;
  /** The migrations linted, `<version>_<name>`, in order. */
  migrations: string[];
  findings: MigrationFinding[];
  /** mode command: why nothing could be linted, said plainly. */
  notAnalysable?: string;
}

export const CATEGORY_LABEL: Record<MigrationRiskCategory, string> = {
  lockRisk: 'lock risk',
  rollbackIncompatible: 'rollback-incompatible',
};

export const EXPAND_CONTRACT = 'Split the change so each deploy is compatible with the image before it: '
  + 'expand (add the new table or nullable column, write both) → deploy the code that no longer needs the old shape → '
  + 'contract (drop or rename the old one) in a later deploy.';

const CONCURRENT_FILE = 'in its own migration whose first line is `-- flightdeck:no-transaction`';

interface RuleMeaning {
  categories: MigrationRiskCategory[];
  fix: string;
}

/**
 * The squawk rules Flightdeck acts on (squawk 2.70). Others are left out on purpose: lock_timeout and
 * statement_timeout are set by Flightdeck for every migration (docs/migrations.md), each migration is
 * its own transaction (so IF NOT EXISTS "robustness" and a BEGIN/COMMIT wrapper are moot), and style
 * rules (bigint, timestamptz, text over varchar) are the app's business.
 */
export const SQUAWK_RULES: Readonly<Record<string, RuleMeaning>> = {
  'require-concurrent-index-creation': { categories: ['lockRisk'], fix: `Use CREATE INDEX CONCURRENTLY, ${CONCURRENT_FILE}.` },
  'require-concurrent-index-deletion': { categories: ['lockRisk'], fix: `Use DROP INDEX CONCURRENTLY, ${CONCURRENT_FILE}.` },
  'require-concurrent-reindex': { categories: ['lockRisk'], fix: `Use REINDEX … CONCURRENTLY, ${CONCURRENT_FILE}.` },
  'adding-field-with-default': { categories: ['lockRisk'], fix: 'Add the column without the volatile default (or as nullable), backfill in batches, then set the default.' },
  'adding-not-nullable-field': { categories: ['lockRisk'], fix: 'Add CHECK (col IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT in a later migration, then SET NOT NULL (it uses the validated check).' },
  'constraint-missing-not-valid': { categories: ['lockRisk'], fix: 'Add the constraint NOT VALID, and VALIDATE CONSTRAINT in a later migration.' },
  'adding-foreign-key-constraint': { categories: ['lockRisk'], fix: 'Add the foreign key NOT VALID, and VALIDATE CONSTRAINT in a later migration.' },
  'disallowed-unique-constraint': { categories: ['lockRisk'], fix: `Create a unique index CONCURRENTLY (${CONCURRENT_FILE}), then ADD CONSTRAINT … UNIQUE USING INDEX.` },
  'adding-serial-primary-key-field': { categories: ['lockRisk'], fix: `Create a unique index CONCURRENTLY (${CONCURRENT_FILE}), then ADD CONSTRAINT … PRIMARY KEY USING INDEX.` },
  'adding-primary-key-constraint': { categories: ['lockRisk'], fix: `Create a unique index CONCURRENTLY (${CONCURRENT_FILE}), then ADD CONSTRAINT … PRIMARY KEY USING INDEX.` },
  'changing-column-type': { categories: ['lockRisk', 'rollbackIncompatible'], fix: `Add a new column of the new type, backfill it, switch the code over, drop the old one later. ${EXPAND_CONTRACT}` },
  'ban-drop-column': { categories: ['rollbackIncompatible'], fix: `Stop reading and writing the column in one deploy, drop it in a later one. ${EXPAND_CONTRACT}` },
  'ban-drop-table': { categories: ['rollbackIncompatible'], fix: `Stop using the table in one deploy, drop it in a later one. ${EXPAND_CONTRACT}` },
  'ban-drop-database': { categories: ['rollbackIncompatible'], fix: 'Never drop a database in a migration: do it by hand, after its last user is gone.' },
  'renaming-column': { categories: ['rollbackIncompatible'], fix: `Add the new column and write both, move reads over, drop the old column later. ${EXPAND_CONTRACT}` },
  'renaming-table': { categories: ['rollbackIncompatible'], fix: `Create the new table (or a view with the old name), move the code over, drop the old name later. ${EXPAND_CONTRACT}` },
  'renaming-object': { categories: ['rollbackIncompatible'], fix: `The previous image still uses the old name: create the new object beside it (or a view under the old name), move the code over, drop the old name later. ${EXPAND_CONTRACT}` },
  'ban-drop-view': { categories: ['rollbackIncompatible'], fix: `Stop using the view in one deploy, drop it in a later one. ${EXPAND_CONTRACT}` },
  'ban-drop-function': { categories: ['rollbackIncompatible'], fix: `Stop calling the function in one deploy, drop it in a later one. ${EXPAND_CONTRACT}` },
  'ban-drop-type': { categories: ['rollbackIncompatible'], fix: `Stop using the type in one deploy, drop it in a later one. ${EXPAND_CONTRACT}` },
  'ban-drop-schema': { categories: ['rollbackIncompatible'], fix: `Move everything out of the schema and stop using it in one deploy, drop it in a later one. ${EXPAND_CONTRACT}` },
  'ban-set-schema': { categories: ['rollbackIncompatible'], fix: `The previous image looks the object up in its old schema: create it in the new one (or a view in the old), move the code over, drop the old later. ${EXPAND_CONTRACT}` },
  'adding-required-field': { categories: ['rollbackIncompatible'], fix: `The previous image does not write this column: add it nullable or with a default, and make it NOT NULL once every image writes it. ${EXPAND_CONTRACT}` },
  'ban-drop-not-null': { categories: ['rollbackIncompatible'], fix: `The previous image may not expect NULLs here: deploy code that handles NULL first, then drop NOT NULL. ${EXPAND_CONTRACT}` },
};

/** The categories of a squawk rule; none for a rule Flightdeck does not act on. */
export function categoriesOfRule(rule: string): MigrationRiskCategory[] {
  return Object.hasOwn(SQUAWK_RULES, rule) ? SQUAWK_RULES[rule]!.categories : [];
}

export function fixForRule(rule: string, category: MigrationRiskCategory): string {
  if (Object.hasOwn(SQUAWK_RULES, rule)) return SQUAWK_RULES[rule]!.fix;
  return category === 'rollbackIncompatible' ? EXPAND_CONTRACT : 'Split the statement so no step holds a heavy lock on a busy table.';
}

// ---------------------------------------------------------------- policy

/** Production approves both kinds of finding by default; every other environment warns. */
export function defaultMigrationSafetyPolicy(environment: string | undefined): MigrationSafetyPolicy {
  return environment === 'production'
    ? { lockRisk: 'approve', rollbackIncompatible: 'approve' }
    : { lockRisk: 'warn', rollbackIncompatible: 'warn' };
}

/** The environment's configured policy (environments.<name>.migrationSafety) over its default. */
export function resolveMigrationSafetyPolicy(environment: string | undefined, configured?: Partial<MigrationSafetyPolicy>): MigrationSafetyPolicy {
  const defaults = defaultMigrationSafetyPolicy(environment);
  return {
    lockRisk: configured?.lockRisk ?? defaults.lockRisk,
    rollbackIncompatible: configured?.rollbackIncompatible ?? defaults.rollbackIncompatible,
  };
}

export interface MigrationSafetyVerdict {
  /** The strictest action any finding calls for; proceed when there is none. */
  action: 'proceed' | 'warn' | 'approve' | 'block';
  /** The findings behind that action (for block: only the blocking ones). */
  findings: MigrationFinding[];
}

const SEVERITY: Record<MigrationSafetyVerdict['action'], number> = { proceed: 0, warn: 1, approve: 2, block: 3 };

export function judgeMigrationSafety(report: MigrationSafetyReport, policy: MigrationSafetyPolicy): MigrationSafetyVerdict {
  let action: MigrationSafetyVerdict['action'] = 'proceed';
  for (const finding of report.findings) {
    const wanted = policy[finding.category];
    if (SEVERITY[wanted] > SEVERITY[action]) action = wanted;
  }
  const findings = action === 'proceed' ? [] : report.findings.filter((f) => action !== 'block' || policy[f.category] === 'block');
  return { action, findings };
}

/** The rollback-incompatible findings among migrations that were applied: the previous image may not live with them. */
export function rollbackIncompatibleApplied(findings: readonly MigrationFinding[], appliedVersions: readonly number[]): MigrationFinding[] {
  return findings.filter((f) => f.category === 'rollbackIncompatible' && appliedVersions.includes(f.version));
}

// ---------------------------------------------------------------- describing

const MAX_STATEMENT_CHARS = 300;

export function boundStatement(statement: string): string {
  const oneLine = statement.replace(/\s+/g, ' ').trim();
  return oneLine.length > MAX_STATEMENT_CHARS ? `${oneLine.slice(0, MAX_STATEMENT_CHARS)}…` : oneLine;
}

/** A few words for the run's facts: "2 lock risk, 1 rollback-incompatible", "clean", "not analysable". */
export function summarizeMigrationSafety(report: MigrationSafetyReport): string {
  if (report.mode === 'command') return 'not analysable (migrate command)';
  if (report.mode === 'none') return 'nothing pending';
  const counts = (['lockRisk', 'rollbackIncompatible'] as const)
    .map((category) => [category, report.findings.filter((f) => f.category === category).length] as const)
    .filter(([, count]) => count > 0)
    .map(([category, count]) => `${count} ${CATEGORY_LABEL[category]}`);
  return counts.length ? counts.join(', ') : 'clean';
}

/** One finding as plain text: where, the statement, the rule and category, why, and what to do instead. */
export function describeFinding(finding: MigrationFinding): string {
  return `${finding.fileName}:${finding.line} [${CATEGORY_LABEL[finding.category]}, ${finding.rule}] ${finding.statement}\n`
    + `    why: ${finding.why}\n    instead: ${finding.fix}`;
}

/** The whole report as plain text (Slack escapes it where it shows it). */
export function describeMigrationSafety(report: MigrationSafetyReport): string {
  if (report.mode === 'command') return `Migration safety: not analysable. ${report.notAnalysable ?? ''}`.trim();
  if (report.mode === 'none') return 'Migration safety: no pending migration to lint.';
  const linted = `${report.migrations.length} pending migration${report.migrations.length === 1 ? '' : 's'} linted${report.linter ? ` with ${report.linter}` : ''}`;
  if (report.findings.length === 0) return `Migration safety: ${linted}: no lock risk, nothing rollback-incompatible.`;
  return `Migration safety: ${linted}: ${summarizeMigrationSafety(report)}.\n${report.findings.map(describeFinding).join('\n')}`;
}

/** Why a run stops under a block policy: which statement, why, and how to split it. */
export function describeBlocked(environment: string, verdict: MigrationSafetyVerdict): string {
  const [first] = verdict.findings;
  const more = verdict.findings.length > 1 ? ` (and ${verdict.findings.length - 1} more)` : '';
  if (!first) return `Migration safety blocked the deploy to ${environment}.`;
  return `Migration safety blocks ${CATEGORY_LABEL[first.category]} migrations in ${environment}: ${first.fileName}:${first.line} `
    + `${first.statement} — ${first.why.replace(/\.+$/, '')}${more}. Nothing was changed. ${first.fix}`;
}
