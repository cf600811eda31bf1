// migrate.sh, made durable: inspect → back up → apply, roll back or force under the migration lock →
// report. The connection string never appears here: activities resolve the app's secret by name.
// An image rollback never rolls the schema back; rolling a database back is this workflow's explicit
// `rollback` action.
import {
  ActivityCancellationType, ApplicationFailure, CancellationScope, executeChild, isCancellation, patched, proxyActivities, setHandler, type ActivityOptions,
  type ActivityInterfaceFor, type CancelledFailure,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { MigrationTarget } from '../activities/migrations/index.js';
import { failureDetails, failureType, PermanentError, rootMessage } from '../lib/errors.js';
import { runSearchAttributes } from '../lib/runSearchAttributes.js';
import {
  statusQuery, type BackupRequest, type BackupResult, type MigrateRequest, type MigrateResult, type MigrationAction, type MigrationRef, type MigrationStatusReport, type PlannedMigration,
} from '../lib/messages.js';
import { describeMigrationSafety } from '../lib/migrationSafety.js';
import { localOptions, onTaskQueue } from './activityOptions.js';
import { acceptCancelReasons, CANCEL_AT_SAFE_POINTS_PATCH, cancelledDuring, type Cancellation } from './cancellation.js';
import { RunTracker } from './runTracker.js';

export const SCHEMA_ROLLBACK_NOTE = 'an image rollback never rolls the schema back; rolling back the database is a separate, explicit migrate rollback';

const STAGES: Record<MigrationAction, string[]> = {
  status: ['inspect'],
  plan: ['inspect'],
  apply: ['inspect', 'backup', 'migrate'],
  rollback: ['inspect', 'backup', 'migrate'],
  force: ['inspect', 'migrate'],
};

/** Long migrations (CREATE INDEX CONCURRENTLY on a big table) heartbeat; a lost worker is retried, and
 * a retry is safe: each migration is atomic, or leaves the database dirty and the retry refuses. */
const migrationOptions: ActivityOptions = {
  startToCloseTimeout: '6h',
  heartbeatTimeout: '30s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 3 },
};

/**
 * A cancelled migration is waited for until the migrator has stopped its statement and rolled its
 * transaction back (or finished): the report that follows reads the state it left, not a state
 * that the still-running statement may yet change.
 */
const migrationAwaitingCancelOptions: ActivityOptions = { ...migrationOptions, cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED };

const local = proxyActivities<Activities>(localOptions);
const migrator = proxyActivities<Activities>(migrationOptions);
/** The migration itself, on the database queue when there is one (worker/taskQueues.ts). */
const migratorOn = (target: MigrationTarget, isCancelAwaited: boolean) => proxyActivities<Activities>(
  onTaskQueue(isCancelAwaited ? migrationAwaitingCancelOptions : migrationOptions, target.databaseTaskQueue));
// Status only: one quick try, never a reason to fail the run.
const lookout = proxyActivities<Activities>({ ...localOptions, retry: { maximumAttempts: 1 } });

/** The change id of a migration that first looks for a running backup dump, to say it waits for it (docs/operations.md). */
export const DUMP_WAIT_PATCH = 'migration-waits-for-dumps';
/** The change id of a cancel that waits for the migrator to stop before the run reads and reports the state (docs/operations.md). */
export const CANCEL_WAITS_FOR_MIGRATOR_PATCH = 'migration-cancel-waits-for-migrator';

export async function migrateDatabase(request: MigrateRequest): Promise<MigrateResult> {
  // Patch command-plan-not-analysable: plan on an app's own migrate command answers "not analysable" instead of failing.
  const isCommandPlanAnswered = patched('command-plan-not-analysable');
  // Patch cancel-at-safe-points: a cancelled migration closes CANCELED and reports the state it left.
  const isCancelSafe = patched(CANCEL_AT_SAFE_POINTS_PATCH);
  const isDumpWaitShown = patched(DUMP_WAIT_PATCH);
  const isCancelAwaited = patched(CANCEL_WAITS_FOR_MIGRATOR_PATCH);
  const run = new RunTracker({ kind: 'migrate', app: request.app, environment: request.environment, trigger: request.trigger }, STAGES[request.action] ?? []);
  const migrateStage: MigrateStage = (target, fn, describe) => runMigrateStage(run, request, isDumpWaitShown, () => fn(migratorOn(target, isCancelAwaited)), describe);
  setHandler(statusQuery, () => run.status);
  const cancellation = acceptCancelReasons(run);
  run.fact('action', request.action);
  run.fact('note', SCHEMA_ROLLBACK_NOTE);
  let target: MigrationTarget | undefined;
  /** The versions applied when the run inspected the database: a cancel's report says what changed since. */
  const inspected: { applied?: readonly MigrationRef[] } = {};
  try {
    assertValidRequest(request);
    target = await local.resolveMigrationTarget({ app: request.app, environment: request.environment, workspace: request.workspace });
    // As the pipeline's child, the pipeline's message already tells the story.
    if (request.trigger.source !== 'pipeline') run.reportTo(target.slackChannel);
    const result = target.mode === 'command'
      ? await runAppCommand(run, request, target, isCommandPlanAnswered, migrateStage)
      : await runMigrationFiles(run, request, target, migrateStage, inspected);
    run.setState('succeeded', result.summary);
    return result;
  } catch (err) {
    if (isCancelSafe && (isCancellation(err) || cancellation.isRequested())) throw await reportCancel(run, cancellation, request, target, err, inspected.applied);
    const outcome = reportFailure(run, err);
    throw ApplicationFailure.nonRetryable(outcome, failureType(err) ?? PermanentError.MigrationFailed);
  } finally {
    await (isCancelSafe ? CancellationScope.nonCancellable(() => run.flush()) : run.flush());
  }
}

/**
 * A cancel reaches a running migration as a cancelled statement: a migration in a transaction is
 * rolled back, one outside a transaction may be left part-way (DIRTY). The database's state is read
 * afterwards and reported either way, with the versions this run applied (or rolled back) before the
 * cancel: the difference between what was applied at inspection and what is applied now.
 */
async function reportCancel(run: RunTracker, cancellation: Cancellation, request: MigrateRequest, target: MigrationTarget | undefined, err: unknown,
  appliedAtInspection: readonly MigrationRef[] | undefined): Promise<CancelledFailure> {
  const stage = run.status.currentStage;
  if (stage !== 'migrate') return cancellation.stop(`${cancelledDuring(cancellation, stage)}; the schema was not changed.`);
  if (target?.mode === 'command') {
    return cancellation.stop(`${cancelledDuring(cancellation, stage)}: the app's migration command was stopped; Flightdeck cannot tell how far it got.`);
  }
  const after = await statusAfterCancel(run, request);
  if ('unreadable' in after) {
    // The migrator's own failure (when it, not the cancel, ended the activity) still says what it did.
    const details = failureDetails<FailureDetails>(err);
    const done = describeDone(request.action, details?.appliedVersions ?? [], details?.rolledBackVersions ?? [], details !== undefined);
    return cancellation.stop(`${cancelledDuring(cancellation, stage)}: ${after.unreadable}${done ? ` (${done})` : ''}.`);
  }
  const before = new Set((appliedAtInspection ?? []).map((m) => m.version));
  const now = new Set(after.status.applied.map((m) => m.version));
  const applied = [...now].filter((v) => !before.has(v)).sort((a, b) => a - b);
  const rolledBack = [...before].filter((v) => !now.has(v)).sort((a, b) => b - a);
  const done = describeDone(request.action, applied, rolledBack, appliedAtInspection !== undefined);
  return cancellation.stop(`${cancelledDuring(cancellation, stage)}: the database is ${describeState(after.status)}${done ? ` (${done})` : ''}.`);
}

/** What a cancelled run had done: its applied or rolled-back versions, or that it had done nothing (when that is known). */
function describeDone(action: MigrationAction, applied: readonly number[], rolledBack: readonly number[], isKnown: boolean): string {
  const done = [
    applied.length ? `applied before the cancel: ${applied.join(', ')}` : '',
    rolledBack.length ? `rolled back before the cancel: ${rolledBack.join(', ')}` : '',
  ].filter(Boolean).join('; ');
  if (done || !isKnown) return done;
  if (action === 'apply') return 'none applied before the cancel';
  if (action === 'rollback') return 'none rolled back before the cancel';
  return '';
}

async function statusAfterCancel(run: RunTracker, request: MigrateRequest): Promise<{ status: MigrationStatusReport } | { unreadable: string }> {
  try {
    const { status } = await CancellationScope.nonCancellable(() => local.inspectMigrations({ ...where(request), action: 'status' }));
    noteStatus(run, status);
    if (status.recovery) run.thread(`How to recover:\n${status.recovery}`);
    return { status };
  } catch (err) {
    return { unreadable: `its state could not be read (${rootMessage(err)}); check it with flightdeck migrate ${request.app} status` };
  }
}

async function runMigrationFiles(run: RunTracker, request: MigrateRequest, target: MigrationTarget, migrateStage: MigrateStage,
  inspected: { applied?: readonly MigrationRef[] }): Promise<MigrateResult> {
  const inspection = await run.stage('inspect', () => local.inspectMigrations({ ...where(request), action: request.action, steps: request.steps, toVersion: request.toVersion }),
    (i) => describeState(i.status));
  inspected.applied = inspection.status.applied;
  noteStatus(run, inspection.status);
  const result = { app: request.app, action: request.action, mode: 'files' as const, status: inspection.status, plan: inspection.plan, appliedVersions: [], rolledBackVersions: [] };

  if (request.action === 'status') return { ...result, summary: describeStatus(inspection.status) };
  if (request.action === 'plan') {
    run.thread(describePlanSql(inspection.plan));
    if (inspection.safety) run.thread(describeMigrationSafety(inspection.safety));
    return { ...result, safety: inspection.safety, summary: describePlan(inspection.plan, inspection.status) };
  }
  if (request.action === 'force') {
    const status = await migrateStage(target, (migration) => migration.forceMigrationVersion({ ...runRequest(request, run), version: request.forceVersion! }), describeState);
    noteStatus(run, status);
    return { ...result, status, plan: [], forcedVersion: request.forceVersion, summary: `Forced version ${request.forceVersion}: recorded as applied and clean; nothing was run. ${describeState(status)}.` };
  }
  if (inspection.plan.length === 0) {
    run.skip('backup', 'nothing to change');
    run.skip('migrate', 'nothing to change');
    return { ...result, summary: `Nothing to ${request.action}: ${describeState(inspection.status)}.` };
  }

  const backupId = await backUpFirst(run, request, target);
  const outcome = await migrateStage(target, (migration) => (request.action === 'apply'
    ? migration.applyMigrations({ ...runRequest(request, run, backupId), toVersion: request.toVersion })
    : migration.rollbackMigrations({ ...runRequest(request, run, backupId), steps: request.steps, toVersion: request.toVersion })),
  (o) => describeChange(o.ran));
  noteStatus(run, outcome.status);
  const summary = `${describeChange(outcome.ran)}; ${describeState(outcome.status)}.${backupId ? ` Backup ${backupId} was taken first.` : ''}`;
  return {
    ...result, status: outcome.status, plan: outcome.ran, appliedVersions: outcome.appliedVersions, rolledBackVersions: outcome.rolledBackVersions, backupId, summary,
    ...(backupId ? { backupDatabase: target.backupDatabase, pgDatabase: target.pgDatabase } : {}),
  };
}

/** An app with its own migration tool: Flightdeck runs it (locked, recorded), but sees no versions. */
async function runAppCommand(run: RunTracker, request: MigrateRequest, target: MigrationTarget, isCommandPlanAnswered: boolean, migrateStage: MigrateStage): Promise<MigrateResult> {
  run.skip('inspect', 'the app migrates with its own command');
  if (request.action === 'plan' && isCommandPlanAnswered) {
    const safety = await migrator.lintPendingMigrations(where(request));
    run.thread(safety.summary);
    return { app: request.app, action: request.action, mode: 'command', plan: [], appliedVersions: [], rolledBackVersions: [], safety, summary: safety.summary };
  }
  if (request.action !== 'apply') {
    throw ApplicationFailure.nonRetryable(`App ${request.app} migrates with its own command (database.migrateCommand): Flightdeck can only run it (apply), not ${request.action}.`, PermanentError.InvalidInput);
  }
  const backupId = await backUpFirst(run, request, target);
  const outcome = await migrateStage(target, (migration) => migration.runAppMigrateCommand(runRequest(request, run, backupId)), (o) => o.lastOutputLine || undefined);
  const summary = `Ran the app's migration command${outcome.lastOutputLine ? ` (${outcome.lastOutputLine})` : ''}.${backupId ? ` Backup ${backupId} was taken first.` : ''}`;
  return { app: request.app, action: request.action, mode: 'command', plan: [], appliedVersions: [], rolledBackVersions: [], backupId, summary };
}

/** Runs the migrate stage: fn calls the migrator's activities (on the target's database queue). */
type MigrateStage = <T>(target: MigrationTarget, fn: (migration: ActivityInterfaceFor<Activities>) => Promise<T>, describe: (result: T) => string | undefined) => Promise<T>;

/**
 * The migrate stage. A migration waits for a backup dump of its database to finish (the activity
 * does, under an advisory lock both take): when one is running as it starts, the status says so.
 */
async function runMigrateStage<T>(run: RunTracker, request: MigrateRequest, isDumpWaitShown: boolean, fn: () => Promise<T>, describe: (result: T) => string | undefined): Promise<T> {
  const runningDump = isDumpWaitShown ? await lookout.findRunningBackupDump(where(request)).catch(() => undefined) : undefined;
  if (runningDump) run.fact('waiting for', `a backup dump of the database to finish${runningDump}`);
  try {
    return await run.stage('migrate', fn, describe);
  } finally {
    if (runningDump) run.fact('waiting for', undefined);
  }
}

/**
 * A database with a `databases:` entry changes its schema only after a fresh, verified backup (the
 * backupDatabase workflow, as a child), whatever its environment is called: the config decides, and a
 * request's backupFirst (the CLI's --no-backup) overrides it.
 */
async function backUpFirst(run: RunTracker, request: MigrateRequest, target: MigrationTarget): Promise<string | undefined> {
  // A target resolved before per-environment databases has no isBackupRequired: its history took the request's word.
  const isBackupWanted = target.isBackupRequired === undefined
    ? (request.backupFirst ?? request.isProduction ?? false)
    : (request.backupFirst ?? target.isBackupRequired);
  if (!isBackupWanted) {
    run.skip('backup', target.isBackupRequired === false && request.backupFirst === undefined ? 'no databases: entry asks for one' : 'not requested');
    return undefined;
  }
  const database = target.backupDatabase;
  if (!database) {
    throw ApplicationFailure.nonRetryable(`A backup was requested before migrating, but no entry under "databases" in the config has the secret of `
      + `the database of app ${request.app}${target.environment ? ` ${target.environment}` : ''}. Add one, so the database can be backed up first.`, PermanentError.ConfigInvalid);
  }
  const backup = await run.stage('backup', () => executeChild<(input: BackupRequest) => Promise<BackupResult>>(
    'backupDatabase', {
      workflowId: `${run.status.workflowId}/backup`,
      typedSearchAttributes: runSearchAttributes({ kind: 'backup', database }),
      args: [{ database, trigger: request.trigger }],
    },
  ), (b) => b.backupId);
  run.fact('backup', backup.backupId);
  // A backup that did not restore in verification is no way back: do not change the schema on it.
  if (backup.isVerified === false) {
    throw ApplicationFailure.nonRetryable(`The backup taken first (${backup.backupId}) failed verification, so the schema was not changed. `
      + 'Fix the backup, then migrate again.', PermanentError.BackupVerificationFailed);
  }
  return backup.backupId;
}

// ---------------------------------------------------------------- requests

function assertValidRequest(request: MigrateRequest): void {
  if (!STAGES[request.action]) {
    throw ApplicationFailure.nonRetryable(`Unknown action "${request.action}": one of ${Object.keys(STAGES).join(', ')}.`, PermanentError.InvalidInput);
  }
  if (request.action === 'force' && !(Number.isSafeInteger(request.forceVersion) && request.forceVersion! >= 0)) {
    throw ApplicationFailure.nonRetryable('The force action needs forceVersion: the version to record (0 for none applied).', PermanentError.InvalidInput);
  }
}

function where(request: MigrateRequest) {
  return { app: request.app, environment: request.environment, workspace: request.workspace };
}

function runRequest(request: MigrateRequest, run: RunTracker, backupId?: string) {
  return {
    ...where(request),
    lockTimeout: request.lockTimeout,
    record: { ranBy: `${request.trigger.source}:${request.trigger.actor}`, workflowId: run.status.workflowId, releaseVersion: request.releaseVersion, backupId },
  };
}

// ---------------------------------------------------------------- reporting

function noteStatus(run: RunTracker, status: MigrationStatusReport): void {
  run.fact('version', status.currentVersion);
  run.fact('pending', status.pending.length);
  if (status.isDirty) run.fact('dirty', true);
  if (status.drift.length) run.fact('drift', status.drift.map((d) => d.detail).join('; '));
}

function labels(migrations: readonly MigrationRef[]): string {
  return migrations.map((m) => `${m.version}_${m.name}`).join(', ');
}

function describeState(status: MigrationStatusReport): string {
  const pending = status.pending.length ? `${status.pending.length} pending (${labels(status.pending)})` : 'none pending';
  return `at version ${status.currentVersion}${status.isDirty ? ' (DIRTY)' : ''}, ${pending}`;
}

function describeStatus(status: MigrationStatusReport): string {
  const lines = [`The database is ${describeState(status)}.`];
  if (status.drift.length) lines.push(`Drift: ${status.drift.map((d) => d.detail).join('; ')}.`);
  if (status.recovery) lines.push(status.recovery);
  return lines.join(' ');
}

function describeChange(ran: readonly PlannedMigration[]): string {
  const [first] = ran;
  if (!first) return 'nothing ran';
  return `${first.direction === 'up' ? 'Applied' : 'Rolled back'} ${ran.length} migration${ran.length === 1 ? '' : 's'} (${labels(ran)})`;
}

function describePlan(plan: readonly PlannedMigration[], status: MigrationStatusReport): string {
  if (plan.length === 0) return `Nothing would run: the database is ${describeState(status)}.`;
  const verb = plan[0]!.direction === 'up' ? 'apply' : 'roll back';
  return `Dry run: would ${verb} ${plan.length} migration${plan.length === 1 ? '' : 's'} (${labels(plan)}), in this order. Nothing was changed.`;
}

const MAX_SQL_CHARS_PER_FILE = 2500;

function describePlanSql(plan: readonly PlannedMigration[]): string {
  if (plan.length === 0) return 'Nothing would run.';
  return plan.map((m) => {
    const sql = m.sql.length > MAX_SQL_CHARS_PER_FILE ? `${m.sql.slice(0, MAX_SQL_CHARS_PER_FILE)}\n… (${m.sql.length - MAX_SQL_CHARS_PER_FILE} more characters)` : m.sql;
    return `*${m.version}_${m.name}* (${m.direction}${m.isTransactional ? '' : ', no transaction'})\n\`\`\`${sql.trimEnd()}\`\`\``;
  }).join('\n');
}

/** Failures are loud: the outcome on top of the message, and what to do next in its thread. */
function reportFailure(run: RunTracker, err: unknown): string {
  const details = failureDetails<FailureDetails>(err);
  const done = [
    details?.appliedVersions?.length ? `applied before the failure: ${details.appliedVersions.join(', ')}` : '',
    details?.rolledBackVersions?.length ? `rolled back before the failure: ${details.rolledBackVersions.join(', ')}` : '',
  ].filter(Boolean).join('; ');
  if (details?.isDirty) run.fact('dirty', true);
  const outcome = `Migration ${run.status.facts.action} failed: ${rootMessage(err)}${done ? ` (${done})` : ''}`;
  run.setState('failed', `:rotating_light: ${outcome}`);
  if (details?.recovery) run.thread(`How to recover:\n${details.recovery}`);
  return outcome;
}

interface FailureDetails {
  appliedVersions?: number[];
  rolledBackVersions?: number[];
  isDirty?: boolean;
  recovery?: string;
}
