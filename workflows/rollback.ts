// The manual rollback runbook ("fly releases, pick an older image, fly deploy --image"), made
// durable: resolve the target image, deploy it, verify health, report.
import { ApplicationFailure, proxyActivities, setHandler } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { DeployTarget } from '../activities/deployTarget.js';
import type { FlyRelease } from '../activities/fly.js';
import { durationToMs } from '../lib/duration.js';
import { PermanentError, rootMessage } from '../lib/errors.js';
import { statusQuery, type RollbackRequest, type RollbackResult } from '../lib/messages.js';
import { flyDeployOptions, flyReadOptions, localOptions } from './activityOptions.js';
import { verifyHealth } from './health.js';
import { RunTracker } from './runTracker.js';

const local = proxyActivities<Activities>(localOptions);
const fly = proxyActivities<Activities>(flyReadOptions);

export async function rollback(request: RollbackRequest): Promise<RollbackResult> {
  const run = new RunTracker({ kind: 'rollback', app: request.app, environment: request.environment, trigger: request.trigger }, ['resolve', 'deploy', 'health']);
  setHandler(statusQuery, () => run.status);
  run.fact('reason', request.reason);
  try {
    const target = await local.resolveDeployTarget({ app: request.app, environment: request.environment });
    // As the pipeline's child, the pipeline's message already tells the story.
    if (request.trigger.source !== 'pipeline') run.reportTo(target.slackChannel, target.temporalUiBase);
    if (target.lockAfterRollback) await lockDeploysUntilUnlocked(request, run);
    const image = await run.stage('resolve', () => resolveRollbackImage(request, target), (i) => i);
    run.fact('image', image);
    const waitTimeoutMs = durationToMs(target.waitTimeout);
    const release = await run.stage('deploy', () => proxyActivities<Activities>(flyDeployOptions(waitTimeoutMs)).flyDeployImage({
      flyApp: target.flyApp, image, strategy: target.rollbackStrategy, waitTimeout: target.waitTimeout,
      workDir: `deploys/${run.status.workflowId}`, timeoutMs: waitTimeoutMs + 5 * 60_000,
    }), (r) => (r.releaseVersion ? `release v${r.releaseVersion}` : undefined));
    await run.stage('health', () => verifyHealth(target), (r) => r.detail);
    run.setState('succeeded', `Rolled back ${target.flyApp} to ${image}; it is healthy. The database schema was not rolled back.`);
    return { image, releaseVersion: release.releaseVersion, isHealthy: true };
  } catch (err) {
    if (run.status.state === 'running') run.setState('failed', `Rollback failed: ${(err as Error).message}`);
    throw err;
  } finally {
    await run.flush();
  }
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

/** The image to go back to: the one named, the one a release version ran, or the last known good. */
async function resolveRollbackImage(request: RollbackRequest, target: DeployTarget): Promise<string> {
  if (request.lastKnownGoodImage && !request.target) return request.lastKnownGoodImage;
  const releases = await fly.flyReleases(target.flyApp);
  if (request.target?.image) {
    // A rollback skips tests, build and approval, and runs while deploys are locked: it may only go
    // back to an image this app has already run, never to an arbitrary one.
    if (!releases.some((r) => r.imageRef === request.target!.image)) {
      throw ApplicationFailure.nonRetryable(`${request.target.image} is not an image ${target.flyApp} has released (among its 25 newest releases); `
        + 'roll back to one of those, or deploy a new image through the pipeline', PermanentError.NoRollbackTarget);
    }
    return request.target.image;
  }
  if (request.target?.releaseVersion !== undefined) {
    const release = releases.find((r) => r.version === request.target!.releaseVersion);
    if (!release) throw ApplicationFailure.nonRetryable(`${target.flyApp} has no release v${request.target.releaseVersion} among its 25 newest`, PermanentError.NoRollbackTarget);
    return release.imageRef;
  }
  return previousGoodImage(releases, (await fly.flyAppStatus(target.flyApp)).servingImage, target.flyApp);
}

/** Newest complete release with a different image: secret changes make releases that reuse the image. */
export function previousGoodImage(releases: FlyRelease[], servingImage: string | undefined, flyApp: string): string {
  const candidate = releases.filter((r) => r.status === 'complete' && r.imageRef && r.imageRef !== servingImage).sort((a, b) => b.version - a.version)[0];
  if (!candidate) throw ApplicationFailure.nonRetryable(`${flyApp} has no earlier complete release with a different image to roll back to`, PermanentError.NoRollbackTarget);
  return candidate.imageRef;
}
