// Restoring a catalogued backup: into a new database by default; over an existing one only when the
// request confirms it, after approval when that database is the live one, and after a safety backup
// of what is about to be overwritten. The stored dump's checksum is checked before anything changes.
// The backup is held (retention keeps it) from plan to finish. It is restored into a staging
// database and checked there; only then is it swapped in, in a window that cannot be cancelled, and
// the old database is kept renamed, never dropped.
import {
  ActivityCancellationType, ApplicationFailure, CancellationScope, condition, executeChild, isCancellation, patched, proxyActivities, setHandler, workflowInfo, type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { RestorePlan } from '../activities/backup/index.js';
import { failureType, PermanentError, rootMessage } from '../lib/errors.js';
import { runSearchAttributes } from '../lib/runSearchAttributes.js';
import { statusQuery, type BackupResult, type RestoreRequest, type RestoreResult } from '../lib/messages.js';
import { localOptions, onTaskQueue } from './activityOptions.js';
import { acceptApprovals, type ApprovalGate } from './approvalGate.js';
import { formatBytes, formatDuration } from '../lib/units.js';
import { alertChannel, backupDatabase, postgresOptions } from './backupDatabase.js';
import { acceptCancelReasons, CANCEL_AT_SAFE_POINTS_PATCH, cancelledDuring, type Cancellation } from './cancellation.js';
import { describeGlobalsRestore } from '../lib/globalsRestore.js';
import { RunTracker } from './runTracker.js';

const APPROVAL_TIMEOUT = '30m';

const postgres = proxyActivities<Activities>(postgresOptions);
/** A staging restore drops its own leftovers, so a retry (after a lost worker) may come soon. */
const stagingOptions: ActivityOptions = { ...postgresOptions, retry: { initialInterval: '5s', backoffCoefficient: 2, maximumAttempts: 3 } };
/**
 * The staging restore, on the database queue when there is one (worker/taskQueues.ts). With
 * cancel-at-safe-points (untilStopped): a cancelled staging restore has stopped before its database is dropped.
 */
function stagingOn(databaseTaskQueue: string | undefined, untilStopped: boolean) {
  const options = untilStopped ? { ...stagingOptions, cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED } : stagingOptions;
  return proxyActivities<Activities>(onTaskQueue(options, databaseTaskQueue));
}
const swap = proxyActivities<Activities>({ startToCloseTimeout: '10m', heartbeatTimeout: '30s', retry: { initialInterval: '2s', maximumAttempts: 5 } });
const holds = proxyActivities<Activities>({ startToCloseTimeout: '2m', retry: { initialInterval: '2s', maximumInterval: '30s', maximumAttempts: 10 } });
/** The change id of restoring into a staging database and swapping it in (docs/operations.md). */
export const RESTORE_BY_SWAP_PATCH = 'restore-by-swap';
/** The change id of recreating missing roles from the backup's globals on request (docs/operations.md). */
export const RESTORE_GLOBALS_PATCH = 'restore-with-globals';
const roles = proxyActivities<Activities>({ startToCloseTimeout: '10m', heartbeatTimeout: '30s', retry: { initialInterval: '2s', maximumAttempts: 3 } });
// prepareRestore connects to the server (through a fly proxy when configured): more than a config read.
const preparation = proxyActivities<Activities>({ ...localOptions, startToCloseTimeout: '2m', heartbeatTimeout: '30s' });

export async function restoreDatabase(request: RestoreRequest): Promise<RestoreResult> {
  // Runs started before staged restores (histories from 099fab7) keep their path.
  const isStaged = patched(RESTORE_BY_SWAP_PATCH);
  // Patch cancel-at-safe-points: a cancel before the swap drops the staging copy; the target is untouched.
  const isCancelSafe = patched(CANCEL_AT_SAFE_POINTS_PATCH);
  const isGlobalsRestoreKnown = patched(RESTORE_GLOBALS_PATCH);
  const shouldRestoreGlobals = isStaged && isGlobalsRestoreKnown && request.shouldRestoreGlobals === true;
  const stages = isStaged
    ? ['plan', 'approval', 'checksum', ...(shouldRestoreGlobals ? ['roles'] : []), 'restore', 'safety backup', 'swap']
    : ['plan', 'approval', 'checksum', 'safety backup', 'restore'];
  const run = new RunTracker({ kind: 'restore', database: request.database, trigger: request.trigger }, stages);
  setHandler(statusQuery, () => run.status);
  const approval = acceptApprovals(run, (actor) => `${actor} may not approve restores of ${request.database}`);
  const cancellation = acceptCancelReasons(run);
  let plan: RestorePlan | undefined;
  try {
    plan = await run.stage('plan', () => preparation.prepareRestore({ database: request.database, backupId: request.backupId, targetDatabase: request.targetDatabase, isCrossDatabaseConfirmed: request.isCrossDatabaseConfirmed }), describePlan);
    run.reportTo(plan.slackChannel);
    run.fact('backup', plan.backupId);
    run.fact('target', plan.targetDatabase);
    assertRestorable(plan, request);
    if (isStaged) return await restoreBySwap(run, approval, { ...request, shouldRestoreGlobals }, plan, isCancelSafe ? cancellation : undefined);
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
    if (isCancelSafe && (isCancellation(err) || cancellation.isRequested())) {
      if (run.status.state === 'cancelled') throw err;
      throw cancellation.stop(`${cancelledDuring(cancellation, run.status.currentStage ?? 'plan')}; nothing was changed.`);
    }
    if (isCancellation(err)) {
      run.setState('cancelled', `Restore of ${request.backupId} was cancelled.`);
      throw err;
    }
    const reason = rootMessage(err);
    run.setState('failed', `Restore of ${request.backupId} FAILED: ${reason}`);
    await alertChannel(plan?.slackChannel, `Restore of ${request.backupId} into ${plan?.targetDatabase ?? 'its target'} FAILED: ${reason}`);
    throw ApplicationFailure.nonRetryable(`Restore of ${request.backupId} failed: ${reason}`, failureType(err) ?? PermanentError.RestoreFailed);
  } finally {
    await (isCancelSafe ? CancellationScope.nonCancellable(() => run.flush()) : run.flush());
  }
}

/**
 * plan → hold → approval → checksum → restore into staging → safety backup → swap → release the hold.
 * A cancel before the swap drops the staging copy (`cancellation` is absent for runs started before
 * the patch cancel-at-safe-points); a swap, once begun, finishes.
 */
async function restoreBySwap(run: RunTracker, approval: ApprovalGate, request: RestoreRequest, plan: RestorePlan, cancellation: Cancellation | undefined): Promise<RestoreResult> {
  const { series, backupId, targetDatabase } = plan;
  const stagingDatabase = plan.stagingDatabase!;
  const preRestoreDatabase = plan.preRestoreDatabase!;
  const ref = { database: request.database, series, backupId };
  const holder = workflowInfo().workflowId;
  await holds.holdBackup({ ...ref, holder, reason: `restore into ${targetDatabase}` });
  let isSwapBegun = false;
  try {
    // Every existing target needs approval, by the target's own restorers (the plan names them).
    const isOverwrite = plan.isTargetExisting;
    if (isOverwrite && plan.approvers.length === 0) {
      throw ApplicationFailure.nonRetryable(`overwriting ${targetDatabase} needs an approver, and none is configured (permissions.restore or approval.approvers of its app)`, PermanentError.ConfigInvalid);
    }
    if (isOverwrite) await waitForApproval(run, approval, plan);
    else run.skip('approval', 'a new database');
    await checkChecksum(run, ref);
    // Owners and grantees must exist before pg_restore runs with them.
    const restoredRoles = request.shouldRestoreGlobals ? await restoreRoles(run, ref) : undefined;

    const outcome = await run.stage('restore', () => stagingOn(plan.databaseTaskQueue, cancellation !== undefined).restoreBackupIntoStaging({ ...ref, stagingDatabase }),
      (o) => (o.isVerified ? `into ${stagingDatabase}; database properties, row counts and schema match the backup` : `into ${stagingDatabase}; it does NOT match the backup`));
    run.status.checks = outcome.checks;
    if (!outcome.isVerified) {
      const mismatches = outcome.checks.filter((c) => !c.isPassed).map((c) => `${c.name}: ${c.detail}`).join('; ');
      throw ApplicationFailure.nonRetryable(`the restored copy does not match backup ${backupId} (${targetDatabase} was not touched): ${mismatches}`, outcome.failureType ?? PermanentError.BackupVerificationFailed);
    }

    // As late as possible: what is committed after its snapshot is only in the renamed old database.
    const safety = isOverwrite ? await takeSafetyBackup(run, request, plan, true) : undefined;
    if (!isOverwrite) run.skip('safety backup', 'nothing is overwritten');

    // Once begun, the swap finishes (or puts the live database back): a cancel waits for it.
    isSwapBegun = true;
    const swapped = await CancellationScope.nonCancellable(() => run.stage('swap', () => swap.swapInRestoredDatabase({
      database: request.database, targetDatabase, stagingDatabase, preRestoreDatabase, isOverwrite,
    }), (s) => (s.preRestoreDatabase ? `${targetDatabase} → ${s.preRestoreDatabase}, ${stagingDatabase} → ${targetDatabase}` : `${stagingDatabase} → ${targetDatabase}`)));
    const writeLossWindow = safety ? describeWriteLossWindow(plan, safety, swapped) : undefined;
    if (swapped.preRestoreDatabase) run.fact('old database kept as', swapped.preRestoreDatabase);
    if (writeLossWindow) run.fact('write-loss window', writeLossWindow);
    const lateCancel = cancellation?.isRequested() ? ` ${['A cancel', cancellation.by(), 'came during the swap, which finishes once begun.'].filter(Boolean).join(' ')}` : '';
    run.setState('succeeded', `Restored ${backupId} into ${targetDatabase}; row counts and schema match.${writeLossWindow ? ` ${writeLossWindow}` : ''}${lateCancel}`);
    return {
      targetDatabase, isVerified: true, safetyBackupId: safety?.backupId, checks: outcome.checks, preRestoreDatabase: swapped.preRestoreDatabase, writeLossWindow,
      ...(restoredRoles ? { roles: restoredRoles } : {}),
    };
  } catch (err) {
    if (!cancellation || isSwapBegun || !(isCancellation(err) || cancellation.isRequested())) throw err;
    const stage = run.status.currentStage;
    let staging = `its staging copy ${stagingDatabase} was dropped`;
    try {
      await CancellationScope.nonCancellable(() => swap.discardStagingDatabase({ database: request.database, stagingDatabase }));
    } catch (dropErr) {
      staging = `its staging copy ${stagingDatabase} could not be dropped (${rootMessage(dropErr)}): drop it by hand`;
    }
    const safetyBackup = run.status.facts['safety backup'] ? ` The safety backup ${run.status.facts['safety backup']} is kept.` : '';
    throw cancellation.stop(`${cancelledDuring(cancellation, stage)}: ${targetDatabase} was not touched; ${staging}.${safetyBackup}`);
  } finally {
    await CancellationScope.nonCancellable(() => holds.releaseBackupHold({ ...ref, holder })).catch(() => undefined);
  }
}

/** The roles the server lacks, created from the backup's globals; what was done with each goes to the thread. */
async function restoreRoles(run: RunTracker, ref: { database: string; series: string; backupId: string }): Promise<NonNullable<RestoreResult['roles']>> {
  const report = await run.stage('roles', () => roles.restoreBackupGlobals(ref),
    (r) => `created ${r.created.length}, kept ${r.existing.length} existing${r.failed.length ? `, ${r.failed.length} FAILED` : ''}`);
  run.thread(`Roles from the backup's globals: ${describeGlobalsRestore(report)}`);
  if (report.created.length) run.fact('roles created', report.created.join(', '));
  return { created: report.created, existing: report.existing, failed: report.failed.map((f) => `${f.role}: ${f.reason}`) };
}

function describeWriteLossWindow(plan: RestorePlan, safety: { backupId: string; snapshotAt?: string }, swapped: { connectionsBlockedAt: string; preRestoreDatabase?: string }): string {
  const from = safety.snapshotAt ?? swapped.connectionsBlockedAt;
  const windowMs = Math.max(0, Date.parse(swapped.connectionsBlockedAt) - Date.parse(from));
  return `Writes committed to ${plan.targetDatabase} from ${from} (the safety backup ${safety.backupId}) until ${swapped.connectionsBlockedAt} (connections blocked for the swap), `
    + `${formatDuration(windowMs)}, are not in the safety backup; every write up to the swap is kept in ${swapped.preRestoreDatabase}, and none made after ${plan.backupCreatedAt} is in the restored database.`;
}

async function checkChecksum(run: RunTracker, ref: { database: string; series: string; backupId: string }): Promise<void> {
  await run.stage('checksum', async () => {
    const check = await postgres.verifyBackupChecksum(ref);
    if (!check.isPassed) throw ApplicationFailure.nonRetryable(`the stored dump is corrupt: ${check.detail}`, PermanentError.BackupChecksumMismatch);
    return check;
  }, (check) => check.detail);
}

function describePlan(plan: RestorePlan): string {
  const target = plan.isTargetExisting ? `overwrite ${plan.targetDatabase}${plan.isProductionTarget ? ' (the live database)' : ''}` : `new database ${plan.targetDatabase}`;
  return `${plan.backupId} (${plan.backupStatus}, ${formatBytes(plan.sizeBytes)}) → ${target}`;
}

function assertRestorable(plan: RestorePlan, request: RestoreRequest): void {
  if (plan.backupStatus === 'failed') {
    throw ApplicationFailure.nonRetryable(`backup ${plan.backupId} failed its verification; pick a verified one`, PermanentError.BackupVerificationFailed);
  }
  if (request.shouldRestoreGlobals && plan.hasGlobals === false) {
    throw ApplicationFailure.nonRetryable(`backup ${plan.backupId} has no stored globals (roles): restore it without them, or pick a newer backup`, PermanentError.InvalidInput);
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
    const what = plan.isProductionTarget ? `the live database ${plan.targetDatabase}` : plan.targetDatabase;
    run.setState('waiting-for-approval', `Overwriting ${what} with ${plan.backupId} needs approval from ${plan.approvers.join(', ')}.`);
    const isDecided = await condition(() => approval.decision !== undefined, APPROVAL_TIMEOUT);
    run.setState('running');
    if (!isDecided) throw ApplicationFailure.nonRetryable(`nobody approved within ${APPROVAL_TIMEOUT}`, PermanentError.InvalidInput);
    if (!approval.decision!.isApproved) throw ApplicationFailure.nonRetryable(`rejected by ${approval.decision!.actor}${approval.decision!.comment ? `: ${approval.decision!.comment}` : ''}`, PermanentError.InvalidInput);
    return approval.decision!;
  }, (decision) => `approved by ${decision.actor}`);
}

/** A verified backup of the target as it is now; no overwrite without one. */
async function takeSafetyBackup(run: RunTracker, request: RestoreRequest, plan: RestorePlan): Promise<string>;
async function takeSafetyBackup(run: RunTracker, request: RestoreRequest, plan: RestorePlan, isStaged: true): Promise<BackupResult>;
async function takeSafetyBackup(run: RunTracker, request: RestoreRequest, plan: RestorePlan, isStaged = false): Promise<string | BackupResult> {
  // A configured database's live target is backed up into its own series; any other, into a series of its own.
  const series = isStaged && plan.targetConfigDatabase
    ? { database: plan.targetConfigDatabase }
    : { database: request.database, pgDatabase: plan.isProductionTarget ? undefined : plan.targetDatabase };
  const safety = await run.stage('safety backup', async () => {
    const result = await executeChild(backupDatabase, {
      workflowId: `${workflowInfo().workflowId}/safety-backup`,
      typedSearchAttributes: runSearchAttributes({ kind: 'backup', database: series.database }),
      args: [{
        ...series,
        trigger: { source: 'pipeline', actor: request.trigger.actor, deliveryId: request.trigger.deliveryId },
        ...(isStaged ? { isSafetyBackup: true } : {}),
      }],
    });
    if (!result.isVerified) throw ApplicationFailure.nonRetryable(`the safety backup ${result.backupId} of ${plan.targetDatabase} did not verify; nothing was overwritten`, PermanentError.BackupVerificationFailed);
    run.fact('safety backup', result.backupId);
    return result;
  }, (result) => result.backupId);
  return isStaged ? safety : safety.backupId;
}
