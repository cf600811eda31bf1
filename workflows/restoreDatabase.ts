// Restoring a catalogued backup: into a new database by default; over an existing one only when the
// request confirms it, after approval when that database is the live one, and after a safety backup
// of what is about to be overwritten. The stored dump's checksum is checked before anything changes.
import { ApplicationFailure, condition, executeChild, isCancellation, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { RestorePlan } from '../activities/backup/index.js';
import { failureType, PermanentError, rootMessage } from '../lib/errors.js';
import { statusQuery, type RestoreRequest, type RestoreResult } from '../lib/messages.js';
import { localOptions } from './activityOptions.js';
import { acceptApprovals, type ApprovalGate } from './approvalGate.js';
import { formatBytes } from '../lib/units.js';
import { alertChannel, backupDatabase, postgresOptions } from './backupDatabase.js';
import { RunTracker } from './runTracker.js';

const APPROVAL_TIMEOUT = '30m';

const postgres = proxyActivities<Activities>(postgresOptions);
// prepareRestore connects to the server (through a fly proxy when configured): more than a config read.
const preparation = proxyActivities<Activities>({ ...localOptions, startToCloseTimeout: '2m', heartbeatTimeout: '30s' });

export async function restoreDatabase(request: RestoreRequest): Promise<RestoreResult> {
  const run = new RunTracker({ kind: 'restore', database: request.database, trigger: request.trigger }, ['plan', 'approval', 'checksum', 'safety backup', 'restore']);
  setHandler(statusQuery, () => run.status);
  const approval = acceptApprovals(run, (actor) => `${actor} may not approve restores of ${request.database}`);
  let plan: RestorePlan | undefined;
  try {
    plan = await run.stage('plan', () => preparation.prepareRestore({ database: request.database, backupId: request.backupId, targetDatabase: request.targetDatabase }), describePlan);
    run.reportTo(plan.slackChannel);
    run.fact('backup', plan.backupId);
    run.fact('target', plan.targetDatabase);
    assertRestorable(plan, request);
    const { series, backupId, targetDatabase } = plan;

    const isOverwrite = plan.isTargetExisting;
    if (isOverwrite && plan.isProductionTarget) await waitForApproval(run, approval, plan);
    else run.skip('approval', isOverwrite ? 'not the live database: confirmation suffices' : 'a new database');

    await run.stage('checksum', async () => {
      const check = await postgres.verifyBackupChecksum({ database: request.database, series, backupId });
      if (!check.isPassed) throw ApplicationFailure.nonRetryable(`the stored dump is corrupt: ${check.detail}`, PermanentError.BackupChecksumMismatch);
      return check;
    }, (check) => check.detail);

    const safetyBackupId = isOverwrite ? await takeSafetyBackup(run, request, plan) : undefined;
    if (!isOverwrite) run.skip('safety backup', 'nothing is overwritten');

    const outcome = await run.stage('restore', () => postgres.restoreBackup({ database: request.database, series, backupId, targetDatabase, isOverwrite }), (o) => (o.isVerified ? 'row counts and schema match the backup' : 'restored, but it does NOT match the backup'));
    run.status.checks = outcome.checks;
    if (!outcome.isVerified) {
      const mismatches = outcome.checks.filter((c) => !c.isPassed).map((c) => `${c.name}: ${c.detail}`).join('; ');
      throw ApplicationFailure.nonRetryable(`${targetDatabase} does not match backup ${backupId}: ${mismatches}`, outcome.failureType ?? PermanentError.BackupVerificationFailed);
    }
    run.setState('succeeded', `Restored ${backupId} into ${targetDatabase}; row counts and schema match.`);
    return { targetDatabase, isVerified: true, safetyBackupId, checks: outcome.checks };
  } catch (err) {
    if (isCancellation(err)) {
      run.setState('cancelled', `Restore of ${request.backupId} was cancelled.`);
      throw err;
    }
    const reason = rootMessage(err);
    run.setState('failed', `Restore of ${request.backupId} FAILED: ${reason}`);
    await alertChannel(plan?.slackChannel, `:rotating_light: <!here> Restore of ${request.backupId} into ${plan?.targetDatabase ?? 'its target'} FAILED: ${reason}`);
    throw ApplicationFailure.nonRetryable(`Restore of ${request.backupId} failed: ${reason}`, failureType(err) ?? PermanentError.RestoreFailed);
  } finally {
    await run.flush();
  }
}

function describePlan(plan: RestorePlan): string {
  const target = plan.isTargetExisting ? `overwrite ${plan.targetDatabase}${plan.isProductionTarget ? ' (the live database)' : ''}` : `new database ${plan.targetDatabase}`;
  return `${plan.backupId} (${plan.backupStatus}, ${formatBytes(plan.sizeBytes)}) → ${target}`;
}

function assertRestorable(plan: RestorePlan, request: RestoreRequest): void {
  if (plan.backupStatus === 'failed') {
    throw ApplicationFailure.nonRetryable(`backup ${plan.backupId} failed its verification; pick a verified one`, PermanentError.BackupVerificationFailed);
  }
  if (plan.isTargetExisting && !request.isOverwriteConfirmed) {
    throw ApplicationFailure.nonRetryable(`database ${plan.targetDatabase} exists; overwriting it needs isOverwriteConfirmed`, PermanentError.InvalidInput);
  }
  if (plan.isTargetExisting && plan.isProductionTarget && plan.approvers.length === 0) {
    throw ApplicationFailure.nonRetryable(`overwriting the live database ${plan.targetDatabase} needs an approver, and none is configured (permissions.restore or approval.approvers)`, PermanentError.ConfigInvalid);
  }
}

async function waitForApproval(run: RunTracker, approval: ApprovalGate, plan: RestorePlan): Promise<void> {
  approval.approvers = plan.approvers;
  await run.stage('approval', async () => {
    run.setState('waiting-for-approval', `Overwriting the live database ${plan.targetDatabase} with ${plan.backupId} needs approval from ${plan.approvers.join(', ')}.`);
    const isDecided = await condition(() => approval.decision !== undefined, APPROVAL_TIMEOUT);
    run.setState('running');
    if (!isDecided) throw ApplicationFailure.nonRetryable(`nobody approved within ${APPROVAL_TIMEOUT}`, PermanentError.InvalidInput);
    if (!approval.decision!.isApproved) throw ApplicationFailure.nonRetryable(`rejected by ${approval.decision!.actor}${approval.decision!.comment ? `: ${approval.decision!.comment}` : ''}`, PermanentError.InvalidInput);
    return approval.decision!;
  }, (decision) => `approved by ${decision.actor}`);
}

/** A verified backup of the target as it is now; no overwrite without one. */
async function takeSafetyBackup(run: RunTracker, request: RestoreRequest, plan: RestorePlan): Promise<string> {
  return run.stage('safety backup', async () => {
    const safety = await executeChild(backupDatabase, {
      workflowId: `${workflowInfo().workflowId}/safety-backup`,
      args: [{
        database: request.database,
        pgDatabase: plan.isProductionTarget ? undefined : plan.targetDatabase,
        trigger: { source: 'pipeline', actor: request.trigger.actor, deliveryId: request.trigger.deliveryId },
      }],
    });
    if (!safety.isVerified) throw ApplicationFailure.nonRetryable(`the safety backup ${safety.backupId} of ${plan.targetDatabase} did not verify; nothing was overwritten`, PermanentError.BackupVerificationFailed);
    run.fact('safety backup', safety.backupId);
    return safety.backupId;
  }, (backupId) => backupId);
}
