// The manual rollback runbook ("fly releases, pick an older image, fly deploy --image"), made
// durable: pick the last known good release from the release ledger, deploy its image with the
// fly.toml it was verified with, and judge it by the same health and smoke checks as a deploy.
import { ApplicationFailure, CancellationScope, CancelledFailure, isCancellation, patched, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { DeployTarget } from '../activities/deployTarget.js';
import type { FlyRelease } from '../activities/fly.js';
import { durationToMs } from '../lib/duration.js';
import { PermanentError, rootMessage } from '../lib/errors.js';
import { statusQuery, type RollbackRequest, type RollbackResult } from '../lib/messages.js';
import { hasFailedVerdict, isGoodVerdict, lastKnownGood, newestEntryFor, type LedgerEntry } from '../lib/releaseLedger.js';
import { flyDeployOptions, flyReadOptions, localOptions, onTaskQueue } from './activityOptions.js';
import { acceptCancelReasons, CANCEL_AT_SAFE_POINTS_PATCH, cancelledDuring, type Cancellation } from './cancellation.js';
import { verifyHealth } from './health.js';
import { nowIso, readLedger, recordInLedger } from './ledger.js';
import { RunTracker } from './runTracker.js';
import { describeChecksPassed, verifySmoke } from './smoke.js';

const local = proxyActivities<Activities>(localOptions);
const fly = proxyActivities<Activities>(flyReadOptions);

export async function rollback(request: RollbackRequest): Promise<RollbackResult> {
  // Patch release-ledger: runs started before the ledger keep rolling back as they began.
  const hasLedger = patched('release-ledger');
  // Patch cancel-at-safe-points: a cancel stops a rollback before its rollout or after it, never in it.
  const isCancelSafe = patched(CANCEL_AT_SAFE_POINTS_PATCH);
  const run = new RunTracker({ kind: 'rollback', app: request.app, environment: request.environment, trigger: request.trigger },
    hasLedger ? ['resolve', 'deploy', 'health', 'smoke'] : ['resolve', 'deploy', 'health']);
  setHandler(statusQuery, () => run.status);
  const cancellation = acceptCancelReasons(run);
  run.fact('reason', request.reason);
  try {
    const target = await local.resolveDeployTarget({ app: request.app, environment: request.environment });
    // As the pipeline's child, the pipeline's message already tells the story.
    if (request.trigger.source !== 'pipeline') run.reportTo(target.slackChannel, target.temporalUiBase);
    if (!hasLedger) {
      if (target.lockAfterRollback) await lockDeploysUntilUnlocked(request, run);
      return await rollBackByFlyReleases(request, target, run);
    }
    return await rollBackToKnownGood(request, target, run, isCancelSafe ? cancellation : undefined);
  } catch (err) {
    if (isCancelSafe && isCancellation(err) && run.status.state === 'running') {
      throw cancellation.stop(`${cancelledDuring(cancellation, run.status.currentStage ?? 'resolve')}; nothing was changed.`);
    }
    if (run.status.state === 'running') run.setState('failed', `Rollback failed: ${rootMessage(err)}`);
    throw err;
  } finally {
    await (isCancelSafe ? CancellationScope.nonCancellable(() => run.flush()) : run.flush());
  }
}

/**
 * A rollback's rollout, once begun, finishes: a cancel waits for it (machines half on each image
 * help nobody). `cancellation` is absent for runs started before the patch cancel-at-safe-points.
 */
function unlessCancelSafe<T>(cancellation: Cancellation | undefined, fn: () => Promise<T>): Promise<T> {
  return cancellation ? CancellationScope.nonCancellable(fn) : fn();
}

async function rollBackToKnownGood(request: RollbackRequest, target: DeployTarget, run: RunTracker, cancellation: Cancellation | undefined): Promise<RollbackResult> {
  const address = { app: request.app, environment: request.environment };
  const known = await run.stage('resolve', () => resolveFromLedger(request, target), (k) => describeTarget(k));
  run.fact('image', known.image);
  if (known.isAlreadyServing) {
    for (const stage of ['deploy', 'health', 'smoke']) run.skip(stage, 'already on the last known good release');
    run.setState('succeeded', `${request.app} ${request.environment} already runs ${known.image}, the last known good release `
      + `(put back by a rollback at ${known.entry!.finishedAt ?? known.entry!.startedAt}); nothing was changed. To go further back, name a release with --to.`);
    return { image: known.image, releaseVersion: known.entry?.releaseVersion, isHealthy: true };
  }
  // Manual rollbacks of an environment share one workflow id (one at a time): the run id tells them apart.
  const id = `${workflowInfo().workflowId}@${workflowInfo().runId}`;
  const release = await unlessCancelSafe(cancellation, async () => {
    // Only a rollback that will change something locks (a refused one ended above). Locking, recording
    // and reading the baseline release are independent: one round trip, not three.
    const [, , baseline] = await Promise.all([
      target.lockAfterRollback ? lockDeploysUntilUnlocked(request, run) : undefined,
      recordInLedger(run, address, {
        id, kind: 'rollback', image: known.image, commit: known.entry?.commit, flyConfig: known.entry?.flyConfig, trigger: request.trigger,
        startedAt: nowIso(), verdict: 'deploying', reason: request.reason, forcedBecause: request.force?.reason,
      }),
      fly.flyAppStatus(target.flyApp).then((status) => status.releaseVersion ?? null),
    ]);
    return run.stage('deploy', () => deployImage(target, known, baseline), (r) => (r.releaseVersion ? `release v${r.releaseVersion}` : undefined));
  });
  try {
    // A cancel that arrived during the rollout is honoured here, before the checks.
    if (cancellation?.isRequested()) throw new CancelledFailure('cancelled during the rollout');
    const health = await run.stage('health', () => verifyHealth(target), (r) => r.detail);
    await run.stage('smoke', () => verifySmoke(target, health.appUrl, undefined, (results) => { run.status.checks = results; }), describeChecksPassed);
  } catch (err) {
    const stage = run.status.currentStage ?? 'health';
    if (cancellation && isCancellation(err)) {
      const unchecked = stage === 'deploy' ? 'its health and smoke checks were not run' : `its ${stage} checks did not finish`;
      await CancellationScope.nonCancellable(() => recordInLedger(run, address, {
        id, verdict: 'unverified', stage, reason: `${cancelledDuring(cancellation, stage)}: ${unchecked}`, releaseVersion: release.releaseVersion, finishedAt: nowIso(),
      }));
      throw cancellation.stop(`${cancelledDuring(cancellation, stage)}: ${target.flyApp} was rolled back to ${known.image}`
        + `${release.releaseVersion ? ` (release v${release.releaseVersion})` : ''}, but ${unchecked}. Check it before relying on it.`);
    }
    await recordInLedger(run, address, { id, verdict: 'failed', stage, reason: rootMessage(err), releaseVersion: release.releaseVersion, finishedAt: nowIso() });
    run.setState('failed', `Rolled back ${target.flyApp} to ${known.image}, but it failed its ${stage} checks: ${rootMessage(err)}. Act now.`);
    throw ApplicationFailure.nonRetryable(run.status.outcome!, PermanentError.HealthCheckFailed);
  }
  await recordInLedger(run, address, { id, verdict: 'verified', releaseVersion: release.releaseVersion, finishedAt: nowIso() });
  run.setState('succeeded', `Rolled back ${target.flyApp} to ${known.image}; it passed health and smoke checks. The database schema was not rolled back.`);
  return { image: known.image, releaseVersion: release.releaseVersion, isHealthy: true };
}

interface RollbackTarget {
  image: string;
  /** The ledger entry the image was verified in: its fly.toml is deployed with it. */
  entry?: LedgerEntry;
  why: string;
  /** The newest deploy was already rolled back to this image, which serves: nothing to undo. */
  isAlreadyServing?: boolean;
}

/** The named image or release (refused if its verdict is failed, unless forced), or the last known good. */
async function resolveFromLedger(request: RollbackRequest, target: DeployTarget): Promise<RollbackTarget> {
  const entries = await readLedger({ app: request.app, environment: request.environment });
  if (request.target) {
    const image = await namedImage(request, target);
    if (hasFailedVerdict(entries, image)) await refuseOrForce(request, image, entries);
    return { image, entry: configuredEntry(entries, image), why: request.force ? 'named, forced' : 'named' };
  }
  // Going back from a failed deploy: anything but that image. By hand: undo the newest deploy,
  // so anything but what serves now, unless a rollback already brought it back (no cascading).
  const excluded = request.failingImage ?? (await fly.flyAppStatus(target.flyApp)).servingImage;
  const newest = entries.find((e) => e.kind !== 'adopted');
  if (!request.failingImage && newest?.kind === 'rollback' && newest.image === excluded && isGoodVerdict(newest.verdict)) {
    return { image: newest.image, entry: newest, why: 'already serving', isAlreadyServing: true };
  }
  const known = lastKnownGood(entries, [excluded]);
  if (!known) {
    throw ApplicationFailure.nonRetryable(`${request.app} ${request.environment} has no verified release to roll back to`
      + `${excluded ? ` other than ${excluded}` : ''}; nothing was changed. Name a release with --to, or deploy a fix`, PermanentError.NoRollbackTarget);
  }
  return { image: known.image, entry: known, why: `last known good, ${known.verdict}` };
}

async function refuseOrForce(request: RollbackRequest, image: string, entries: LedgerEntry[]): Promise<void> {
  const failed = newestEntryFor(entries, image)!;
  const verdict = `${failed.verdict}${failed.stage ? ` at ${failed.stage}` : ''}${failed.reason ? `: ${failed.reason}` : ''}`;
  if (!request.force) {
    throw ApplicationFailure.nonRetryable(`${image} is ${verdict}. Flightdeck does not roll back to a failed release; `
      + 'to do it anyway, repeat with --force --reason "<why>" (audit-logged)', PermanentError.RollbackTargetFailed);
  }
  await local.recordAudit({
    actor: request.trigger.actor, action: 'rollback --force', target: `${request.app}/${request.environment} → ${image}`,
    outcome: 'allowed', source: request.trigger.source, detail: `target was ${verdict}; reason: ${request.force.reason}`,
  });
}

/** The newest entry of that image that carries a fly.toml (deployed forward from a checkout). */
function configuredEntry(entries: LedgerEntry[], image: string): LedgerEntry | undefined {
  return entries.find((e) => e.image === image && e.flyConfig !== undefined) ?? newestEntryFor(entries, image);
}

function describeTarget(target: RollbackTarget): string {
  return `${target.image} (${target.why}${target.entry?.flyConfig ? ', with its fly.toml' : ''})`;
}

/** `baseline`: the release before this one; a retried attempt finds its own release above it, never an older one of the same image. */
async function deployImage(target: DeployTarget, known: RollbackTarget, baseline: number | null) {
  const waitTimeoutMs = durationToMs(target.waitTimeout);
  return proxyActivities<Activities>(onTaskQueue(flyDeployOptions(waitTimeoutMs), target.deployTaskQueue)).flyDeployImage({
    flyApp: target.flyApp, image: known.image, strategy: target.rollbackStrategy, waitTimeout: target.waitTimeout,
    baselineReleaseVersion: baseline, workDir: `deploys/${workflowInfo().workflowId}`,
    configContent: known.entry?.flyConfig?.content,
  });
}

/**
 * Whatever made a rollback necessary should be looked at before the next deploy: lock new deploys
 * (an existing lock is kept). Taken before rolling back, so no queued deploy slips in meanwhile.
 * Not being able to lock never stops the rollback; its status says so instead.
 */
async function lockDeploysUntilUnlocked(request: RollbackRequest, run: RunTracker): Promise<void> {
  try {
    const lock = await local.lockDeploysAfterRollback({
      app: request.app, environment: request.environment, owner: request.trigger.actor,
      reason: `rolled back (${request.reason.slice(0, 300)})`, workflowId: run.status.workflowId,
    });
    run.fact('deploys locked by', lock.owner);
  } catch (err) {
    run.fact('deploy lock', `not taken: ${rootMessage(err)}`);
  }
}

// ---------------------------------------------------------------- before the ledger (patch release-ledger)

/** How runs started before the release ledger roll back: Fly's release list, health only. */
async function rollBackByFlyReleases(request: RollbackRequest, target: DeployTarget, run: RunTracker): Promise<RollbackResult> {
  const image = await run.stage('resolve', () => resolveByFlyReleases(request, target), (i) => i);
  run.fact('image', image);
  const waitTimeoutMs = durationToMs(target.waitTimeout);
  const release = await run.stage('deploy', () => proxyActivities<Activities>(onTaskQueue(flyDeployOptions(waitTimeoutMs), target.deployTaskQueue)).flyDeployImage({
    flyApp: target.flyApp, image, strategy: target.rollbackStrategy, waitTimeout: target.waitTimeout,
    baselineReleaseVersion: null, workDir: `deploys/${run.status.workflowId}`,
  }), (r) => (r.releaseVersion ? `release v${r.releaseVersion}` : undefined));
  await run.stage('health', () => verifyHealth(target), (r) => r.detail);
  run.setState('succeeded', `Rolled back ${target.flyApp} to ${image}; it is healthy. The database schema was not rolled back.`);
  return { image, releaseVersion: release.releaseVersion, isHealthy: true };
}

async function resolveByFlyReleases(request: RollbackRequest, target: DeployTarget): Promise<string> {
  if (request.lastKnownGoodImage && !request.target) return request.lastKnownGoodImage;
  if (request.target) return namedImage(request, target);
  const releases = await fly.flyReleases(target.flyApp);
  const serving = (await fly.flyAppStatus(target.flyApp)).servingImage;
  const candidate = releases.filter((r) => r.status === 'complete' && r.imageRef && r.imageRef !== serving).sort((a, b) => b.version - a.version)[0];
  if (!candidate) throw ApplicationFailure.nonRetryable(`${target.flyApp} has no earlier complete release with a different image to roll back to`, PermanentError.NoRollbackTarget);
  return candidate.imageRef;
}

// ---------------------------------------------------------------- shared

/**
 * The image a person named, directly or by release version. A rollback skips tests, build and
 * approval, and runs while deploys are locked: it may only go back to an image this app has
 * already run, never to an arbitrary one.
 */
async function namedImage(request: RollbackRequest, target: DeployTarget): Promise<string> {
  const releases: FlyRelease[] = await fly.flyReleases(target.flyApp);
  if (request.target?.image) {
    if (!releases.some((r) => r.imageRef === request.target!.image)) {
      throw ApplicationFailure.nonRetryable(`${request.target.image} is not an image ${target.flyApp} has released (among its 25 newest releases); `
        + 'roll back to one of those, or deploy a new image through the pipeline', PermanentError.NoRollbackTarget);
    }
    return request.target.image;
  }
  const release = releases.find((r) => r.version === request.target!.releaseVersion);
  if (!release) throw ApplicationFailure.nonRetryable(`${target.flyApp} has no release v${request.target!.releaseVersion} among its 25 newest`, PermanentError.NoRollbackTarget);
  return release.imageRef;
}
