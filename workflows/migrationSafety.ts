// The pipeline's migration safety gate, before anything changes: lint the pending migrations (an
// activity runs squawk), then let the environment's policy decide (lib/migrationSafety.ts): warn and
// go on, ask for approval with the findings in the message, or stop here saying which statement and why.
// After the migrate stage: what was applied, for the ledger, and whether a rollback is still safe.
import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { DeployTarget } from '../activities/deployTarget.js';
import { PermanentError, rootMessage } from '../lib/errors.js';
import type { MigrateResult } from '../lib/messages.js';
import {
  describeBlocked, describeMigrationSafety, judgeMigrationSafety, resolveMigrationSafetyPolicy, rollbackIncompatibleApplied, summarizeMigrationSafety,
  type MigrationFinding, type MigrationSafetyReport, type MigrationSafetyVerdict,
} from '../lib/migrationSafety.js';
import type { ReleaseMigrations } from '../lib/releaseLedger.js';
import type { RunTracker } from './runTracker.js';

/** Reads the database's state and runs squawk over a few files: seconds. A lost worker is retried. */
const linter = proxyActivities<Activities>({
  startToCloseTimeout: '5m',
  heartbeatTimeout: '30s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 3 },
});

export interface MigrationSafetyGate {
  report?: MigrationSafetyReport;
  verdict: MigrationSafetyVerdict;
  /** With verdict approve: the approval message, the plan with its findings. */
  approvalMessage?: string;
}

export async function checkMigrationSafety(run: RunTracker, target: DeployTarget, workspace: string | undefined): Promise<MigrationSafetyGate> {
  const policy = target.migrationSafety ?? resolveMigrationSafetyPolicy(target.environment);
  let report: MigrationSafetyReport & { summary: string };
  try {
    report = await linter.lintPendingMigrations({ app: target.app, environment: target.environment, workspace });
  } catch (err) {
    // An environment that only warns does not stop for a linter that could not run; one that approves or blocks does.
    if (policy.lockRisk !== 'warn' || policy.rollbackIncompatible !== 'warn') throw err;
    run.fact('migration safety', 'not linted');
    run.thread(`:warning: Migration safety: the pending migrations were not linted (${rootMessage(err)}). ${target.environment} only warns, so the deploy goes on.`);
    return { verdict: { action: 'proceed', findings: [] } };
  }
  const verdict = judgeMigrationSafety(report, policy);
  run.fact('migration safety', summarizeMigrationSafety(report));
  if (report.mode !== 'none') run.thread(report.summary);
  if (verdict.action === 'block') {
    throw ApplicationFailure.nonRetryable(describeBlocked(target.environment, verdict), PermanentError.MigrationSafetyBlocked);
  }
  if (verdict.action !== 'approve') return { report, verdict };
  if (target.approval.approvers.length === 0) {
    throw ApplicationFailure.nonRetryable(`Migration safety asks for approval in ${target.environment} (migrationSafety), but the environment has no approvers: `
      + `add them to environments.${target.environment}.approval.approvers, or split the change. Nothing was changed.`, PermanentError.ConfigInvalid);
  }
  const approvalMessage = `${describeMigrationSafety({ ...report, findings: verdict.findings })}\n`
    + 'Approve to apply these migrations as they are, or reject and split the change (expand → deploy → contract).';
  return { report, verdict, approvalMessage };
}

/** What a run's migrate stage did, for the ledger and for deciding how to recover from a failure after it. */
export interface AppliedMigrations {
  record: ReleaseMigrations;
  /** Rollback-incompatible findings in migrations that were applied: the previous image may not work now. */
  incompatible: MigrationFinding[];
  /** Where the pre-migration backup would be restored (over the database that was migrated). */
  restore?: { database: string; backupId: string; pgDatabase: string };
}

export function appliedMigrationsOf(gate: MigrationSafetyGate | undefined, result: MigrateResult): AppliedMigrations {
  const appliedVersions = result.appliedVersions;
  const findings = (gate?.report?.findings ?? []).filter((f) => appliedVersions.includes(f.version));
  const restore = result.backupId && result.backupDatabase && result.pgDatabase
    ? { database: result.backupDatabase, backupId: result.backupId, pgDatabase: result.pgDatabase }
    : undefined;
  return {
    record: { appliedVersions, findings, preMigrationBackupId: result.backupId, backupDatabase: result.backupDatabase },
    incompatible: rollbackIncompatibleApplied(findings, appliedVersions),
    restore,
  };
}

/** The question after a failed check that follows a rollback-incompatible migration: why there is no automatic rollback, and the choices. */
export function describeIncompatiblePause(stage: string, reason: string, applied: AppliedMigrations, pauseTimeout: string): string {
  const statements = applied.incompatible.map((f) => `${f.migration}: ${f.statement}`).join('; ');
  const restore = applied.restore
    ? `, or restore the pre-migration backup ${applied.restore.backupId} (and roll back the image)`
    : ' (no backup was taken before the migrations, so there is none to restore)';
  return `${stage} failed: ${reason}. This deploy applied a rollback-incompatible migration (${statements}): the previous image may not work `
    + 'with the schema as it is now, so Flightdeck does not roll back by itself. '
    + `Decide: roll back the image anyway, keep this release${restore}. If nobody decides within ${pauseTimeout}, nothing is rolled back.`;
}
