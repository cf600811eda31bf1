// The nightly backup runbook (pg_dump, copy it somewhere, hope it restores), made provable:
// dump straight into storage, verify by restoring into a scratch database, record the result in
// the catalog, prune what retention allows, report. A backup that is not verified is not a backup.
import {
  ActivityCancellationType, ApplicationFailure, CancellationScope, isCancellation, patched, proxyActivities, setHandler, uuid4, type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { BackupTarget } from '../activities/backup/index.js';
import type { DumpResult } from '../activities/backup/dump.js';
import type { RetentionPlan } from '../activities/backup/retention.js';
import type { VerificationResult } from '../activities/backup/verify.js';
import { failureDetails, failureType, PermanentError, rootMessage } from '../lib/errors.js';
import { statusQuery, type BackupRequest, type BackupResult } from '../lib/messages.js';
import { formatBytes, formatDuration } from '../lib/units.js';
import { flyReadOptions, localOptions, onTaskQueue } from './activityOptions.js';
import { acceptCancelReasons, CANCEL_AT_SAFE_POINTS_PATCH, cancelledDuring, type Cancellation } from './cancellation.js';
import { RunTracker } from './runTracker.js';

/** pg_dump and pg_restore: long, heartbeating ({phase, bytes}); a retry starts the step over. */
export const postgresOptions: ActivityOptions = {
  startToCloseTimeout: '12h',
  // All attempts together: three 12-hour attempts would skip the next nights (the schedule's SKIP overlap).
  scheduleToCloseTimeout: '14h',
  heartbeatTimeout: '30s',
  retry: { initialInterval: '30s', backoffCoefficient: 2, maximumAttempts: 3 },
};
/** Manifests and deletions: small storage calls, retried through blips. */
const catalogOptions: ActivityOptions = { startToCloseTimeout: '5m', retry: { initialInterval: '2s', maximumInterval: '1m', maximumAttempts: 5 } };

const local = proxyActivities<Activities>(localOptions);
/** Dumps and verifications, on the database queue when there is one (worker/taskQueues.ts). */
function postgresOn(databaseTaskQueue: string | undefined) {
  return proxyActivities<Activities>(onTaskQueue(postgresOptions, databaseTaskQueue));
}
/**
 * With cancel-at-safe-points: a cancelled dump is waited for until it has stopped, so nothing it
 * writes (the dump, its globals, its manifest) lands after the clean-up that deletes them.
 */
function dumpUntilStoppedOn(databaseTaskQueue: string | undefined) {
  return proxyActivities<Activities>(onTaskQueue({ ...postgresOptions, cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED }, databaseTaskQueue));
}
const catalog = proxyActivities<Activities>(catalogOptions);
// The release is context for the catalog, not a reason to fail a backup: one quick try.
const fly = proxyActivities<Activities>({ ...flyReadOptions, retry: { maximumAttempts: 2 } });
const slack = proxyActivities<Activities>({ startToCloseTimeout: '15s', retry: { initialInterval: '2s', maximumAttempts: 5 } });

/** The change id of safety backups that never prune their series (docs/operations.md). */
export const SAFETY_BACKUP_PATCH = 'safety-backups-never-prune';

export async function backupDatabase(request: BackupRequest): Promise<BackupResult> {
  const isSafetyBackupKnown = patched(SAFETY_BACKUP_PATCH);
  // Patch cancel-at-safe-points: a cancelled backup deletes what it stored, unless it was already recorded.
  const isCancelSafe = patched(CANCEL_AT_SAFE_POINTS_PATCH);
  const isSafetyBackup = isSafetyBackupKnown && request.isSafetyBackup === true;
  const run = new RunTracker({ kind: 'backup', database: request.database, trigger: request.trigger }, ['dump', 'verify', 'record', 'prune']);
  setHandler(statusQuery, () => run.status);
  const cancellation = acceptCancelReasons(run);
  let slackChannel: string | undefined;
  /** What this run stores, once it may have stored something; cleared once the catalog records it. */
  let unrecorded: StoredBackup | undefined;
  try {
    const target = await local.prepareBackup({ database: request.database, pgDatabase: request.pgDatabase });
    slackChannel = target.slackChannel;
    run.reportTo(slackChannel);
    const releaseVersion = await currentReleaseVersion(target);
    const backupId = newBackupId(request);
    run.fact('backup', backupId);
    run.fact('release', releaseVersion);
    unrecorded = { series: target.series, backupId, releaseVersion };

    const dump = await run.stage('dump', () => (isCancelSafe ? dumpUntilStoppedOn : postgresOn)(target.databaseTaskQueue).dumpDatabase({
      backupId, database: request.database, pgDatabase: request.pgDatabase, app: target.app,
      releaseVersion, compressionLevel: target.compressionLevel, trigger: request.trigger, ...(isSafetyBackup ? { isSafetyBackup } : {}),
    }), describeDump);
    recordDumpFacts(run, dump);

    const ref = { database: request.database, series: target.series, backupId };
    const verification = await verify(run, ref, target.databaseTaskQueue);
    const { location } = await run.stage('record', () => catalog.recordVerification({ ...ref, verification }),
      () => (verification.isVerified ? 'catalogued as verified' : 'catalogued as FAILED: never counted as a backup'));
    run.fact('manifest', location);
    unrecorded = undefined;

    // A restore's safety backup must not delete what the restore (or its way back) may need.
    const prunedBackupIds = isSafetyBackup ? skipPrune(run) : await prune(run, target);
    await reportOutcome(run, target, backupId, dump, verification, prunedBackupIds);
    return {
      backupId, isVerified: verification.isVerified, location: dump.location, sizeBytes: dump.sizeBytes, sha256: dump.sha256,
      dumpDurationMs: dump.dumpDurationMs, throughputBytesPerSecond: dump.throughputBytesPerSecond, releaseVersion,
      checks: verification.checks, prunedBackupIds, snapshotAt: dump.createdAt,
    };
  } catch (err) {
    if (isCancelSafe && (isCancellation(err) || cancellation.isRequested())) throw await cancelBackup(run, cancellation, request, unrecorded);
    if (isCancellation(err)) {
      run.setState('cancelled', `Backup of ${request.database} was cancelled.`);
      throw err;
    }
    const reason = rootMessage(err);
    run.setState('failed', `Backup of ${request.database} FAILED: ${reason}`);
    await alertChannel(slackChannel, `Backup of *${request.database}* FAILED: ${reason}. No new backup was made.`);
    throw ApplicationFailure.nonRetryable(`Backup of ${request.database} failed: ${reason}`, failureType(err) ?? PermanentError.BackupFailed);
  } finally {
    await (isCancelSafe ? CancellationScope.nonCancellable(() => run.flush()) : run.flush());
  }
}

interface StoredBackup { series: string; backupId: string; releaseVersion: string }

/** A cancelled backup leaves nothing half made: what it stored goes, unless the catalog already records it. */
async function cancelBackup(run: RunTracker, cancellation: Cancellation, request: BackupRequest, unrecorded: StoredBackup | undefined) {
  const stage = run.status.currentStage;
  if (!unrecorded) {
    const kept = run.status.facts.backup ? ` Backup ${run.status.facts.backup} was already recorded and is kept.` : ' Nothing was stored.';
    return cancellation.stop(`${cancelledDuring(cancellation, stage)}.${kept}`);
  }
  try {
    await CancellationScope.nonCancellable(() => catalog.discardBackup(unrecorded));
  } catch (err) {
    return cancellation.stop(`${cancelledDuring(cancellation, stage)}. Backup ${unrecorded.backupId} of ${request.database} could not be deleted (${rootMessage(err)}): `
      + 'it was never recorded as verified, so it never counts as a backup. Delete it by hand.');
  }
  return cancellation.stop(`${cancelledDuring(cancellation, stage)}. Nothing was kept: backup ${unrecorded.backupId} of ${request.database} was deleted.`);
}

/** Sortable and unique: the database, the UTC time to the second, and a short random suffix. */
function newBackupId(request: BackupRequest): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const subject = request.pgDatabase ? `${request.database}.${request.pgDatabase}` : request.database;
  return `${subject}-${stamp}-${uuid4().slice(0, 6)}`;
}

async function currentReleaseVersion(target: BackupTarget): Promise<string> {
  if (!target.releaseFlyApp) return 'unknown';
  try {
    const status = await fly.flyAppStatus(target.releaseFlyApp);
    return status.releaseVersion === undefined ? 'unknown' : `v${status.releaseVersion}`;
  } catch {
    return 'unknown';
  }
}

/**
 * Verification never fails the run by itself: a dump that does not verify is recorded as failed,
 * alerted, and kept out of retention's count. A verification that cannot run counts as failed too.
 */
async function verify(run: RunTracker, ref: { database: string; series: string; backupId: string }, databaseTaskQueue: string | undefined): Promise<VerificationResult> {
  try {
    return await run.stage('verify', async () => {
      const verification = await postgresOn(databaseTaskQueue).verifyBackup(ref);
      if (!verification.isVerified) throw ApplicationFailure.nonRetryable(failedChecksText(verification), verification.failureType, verification);
      return verification;
    }, (v) => `${v.checks.length} checks passed in ${formatDuration(v.durationMs)}`);
  } catch (err) {
    if (isCancellation(err)) throw err;
    const failedChecks = failureDetails<VerificationResult>(err);
    if (failedChecks) return failedChecks;
    return {
      isVerified: false, durationMs: 0, failureType: failureType(err) ?? PermanentError.BackupVerificationFailed,
      checks: [{ name: 'verification', isPassed: false, detail: `could not run: ${rootMessage(err)}` }],
    };
  }
}

function skipPrune(run: RunTracker): string[] {
  run.skip('prune', 'a safety backup never prunes');
  return [];
}

/** The plan is reported before anything is deleted. Pruning trouble never fails a backup. */
async function prune(run: RunTracker, target: BackupTarget): Promise<string[]> {
  try {
    return await run.stage('prune', async () => {
      const plan = await catalog.planBackupRetention({ database: target.database, series: target.series });
      run.thread(retentionPlanText(plan, target));
      if (plan.delete.length === 0) return [];
      return catalog.deleteBackups({ series: target.series, backupIds: plan.delete.map((d) => d.backupId) });
    }, (deleted) => (deleted.length ? `deleted ${deleted.length}` : 'nothing to delete'));
  } catch (err) {
    if (isCancellation(err)) throw err;
    run.thread(`:warning: Pruning old backups of ${target.database} failed (${rootMessage(err)}); nothing else is affected.`);
    return [];
  }
}

async function reportOutcome(run: RunTracker, target: BackupTarget, backupId: string, dump: DumpResult, verification: VerificationResult, pruned: string[]): Promise<void> {
  run.status.checks = verification.checks;
  run.fact('verified', verification.isVerified ? 'yes' : 'NO');
  run.fact('pruned', pruned.length);
  const figures = `${formatBytes(dump.sizeBytes)} in ${formatDuration(dump.dumpDurationMs)} (${formatBytes(dump.throughputBytesPerSecond)}/s)`;
  if (verification.isVerified) {
    run.setState('succeeded', `Backup ${backupId} is verified: ${figures}, restored and compared in ${formatDuration(verification.durationMs)}.`);
    return;
  }
  const reason = failedChecksText(verification);
  run.setState('failed', `Backup ${backupId} FAILED verification (${verification.failureType}): ${reason}. It does not count as a backup.`);
  await alertChannel(target.slackChannel, `Backup ${backupId} of *${target.database}* FAILED verification: ${reason}. It is kept for inspection but never counted by retention.`);
}

/**
 * A failure is announced in the channel itself, not only in the run's message or its thread, where
 * nobody is notified (the activity adds the @here; the text itself is escaped). Slack trouble never fails the run.
 */
export async function alertChannel(channel: string | undefined, text: string): Promise<void> {
  if (!channel) return;
  try {
    await slack.postThreadReply({ channel, text, isAlert: true });
  } catch {
    // The run's own message still says FAILED; the Temporal UI has the rest.
  }
}

function recordDumpFacts(run: RunTracker, dump: DumpResult): void {
  run.fact('size', formatBytes(dump.sizeBytes));
  run.fact('duration', formatDuration(dump.dumpDurationMs));
  run.fact('throughput', `${formatBytes(dump.throughputBytesPerSecond)}/s`);
  run.fact('sha256', dump.sha256.slice(0, 12));
  run.fact('location', dump.location);
  if (dump.globals) run.fact('globals', dump.globals);
  if (dump.sweptOrphans?.length) run.fact('orphans deleted', dump.sweptOrphans.join(', '));
}

function describeDump(dump: DumpResult): string {
  return `${formatBytes(dump.sizeBytes)}, ${dump.tableCount} tables, ${dump.totalRows} rows`;
}

function failedChecksText(verification: VerificationResult): string {
  return verification.checks.filter((c) => !c.isPassed).map((c) => `${c.name}: ${c.detail}`).join('; ') || 'no check passed';
}

export function retentionPlanText(plan: RetentionPlan, target: BackupTarget): string {
  const policy = `keep ${target.retention.maxAge} / at most ${target.retention.maxCount}, never fewer than ${target.retention.minVerified} verified`;
  const lines = [`Retention (${policy}): keeping ${plan.keep.length} (${plan.verifiedKept} verified), deleting ${plan.delete.length}.`];
  for (const decision of plan.delete) lines.push(`• delete ${decision.backupId} (${decision.status}): ${decision.reason}`);
  return lines.join('\n');
}
