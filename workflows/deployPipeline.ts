// deploy.sh, made durable: preflight → test → build → (approval) → migrate → deploy → health →
// smoke → bake. When the new release fails after it started rolling out, Flightdeck rolls back to
// the last known good image by itself, verifies it, and says why.
import {
  ApplicationFailure, CancellationScope, condition, executeChild, isCancellation, ParentClosePolicy, patched, proxyActivities, proxyLocalActivities,
  setHandler, startChild, workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { DeployTarget } from '../activities/deployTarget.js';
import type { FlyAppStatus } from '../activities/fly.js';
import type { PreflightReads, TargetAndPreflightReads } from '../activities/preflight.js';
import { describeAnalysis } from '../lib/bakeAnalysis.js';
import { durationToMs } from '../lib/duration.js';
import { runSearchAttributes } from '../lib/runSearchAttributes.js';
import { failureType, isNothingRolledOut, PermanentError, rootMessage } from '../lib/errors.js';
import { describeFreeze, mayBreakGlass, type ActiveFreeze } from '../lib/freezeWindows.js';
import { summarizeMigrationSafety } from '../lib/migrationSafety.js';
import { isKnownImage, lastKnownGood, type FlyConfigSnapshot, type LedgerEntry, type ReleaseMigrations, type ReleaseVerdict } from '../lib/releaseLedger.js';
import {
  cancelSignal, statusQuery,
  type DeployRequest, type MigrateRequest, type MigrateResult, type RestoreRequest, type RestoreResult, type RollbackResult,
} from '../lib/messages.js';
import { acceptApprovals, acceptFailureDecisions, awaitApproval, type ApprovalGate, type DecisionGate } from './approvalGate.js';
import {
  appCommandOptions, buildOptions, commandOptions, flyDeployOptions, flyReadOptions, localOptions, onTaskQueue, probeOptions, quickLocalOptions,
} from './activityOptions.js';
import { bakeWithAnalysis, readLogBaseline } from './bakeAnalysis.js';
import { acceptCancelReasons, cancelledDuring, type Cancellation } from './cancellation.js';
import { gitHubDeploymentOf, type GitHubDeploymentReporter } from './githubDeployment.js';
import { healthUrl, probeSettings, verifyHealth } from './health.js';
import {
  appliedMigrationsOf, checkMigrationSafety, describeIncompatiblePause, type AppliedMigrations, type MigrationSafetyGate,
} from './migrationSafety.js';
import { nowIso, readLedger, recordDeployingInLedger, recordInLedger } from './ledger.js';
import { rollback } from './rollback.js';
import { RunTracker } from './runTracker.js';
import { describeChecksPassed, verifySmoke } from './smoke.js';

export const DEPLOY_STAGES = ['preflight', 'test', 'build', 'approval', 'migrate', 'deploy', 'health', 'smoke', 'bake'];

export interface DeployResult {
  image: string;
  releaseVersion?: number;
  lastKnownGoodImage?: string;
}

const local = proxyActivities<Activities>(localOptions);
const quickLocal = proxyLocalActivities<Activities>(quickLocalOptions);
const fly = proxyActivities<Activities>(flyReadOptions);

export async function deployPipeline(request: DeployRequest): Promise<DeployResult> {
  // Patch release-ledger: runs started before the release ledger keep their preflight and rollback.
  const hasLedger = patched('release-ledger');
  // Patch runner-queue: checkouts, tests and the smoke command go to the runner queue when one is configured.
  const hasRunnerQueue = patched('runner-queue');
  // Patch migration-safety: pending migrations are linted before the approval, which their findings may require.
  const hasMigrationSafety = patched('migration-safety');
  // Patch quick-stages: config and ledger reads as local activities, preflight's reads at once, and
  // health reuses the app URL preflight read: fewer round trips per stage.
  const isQuick = patched('quick-stages');
  // Patch github-deployments: a run from GitHub or an OIDC caller is shown on GitHub as a Deployment (background activities).
  const hasGitHubDeployments = patched('github-deployments');
  // Patch bake-analysis: with analysis configured, a log baseline is read alongside the deploy and
  // the bake judges metrics and logs every interval besides probing health.
  const hasBakeAnalysis = patched('bake-analysis');
  // Patch preflight-one-read: Fly's status, the secret names and the ledger in one activity (one round trip, not three).
  const isPreflightOneRead = patched('preflight-one-read');
  // Patch one-trip-stages: the checkout and the tests in one activity, and health's probe and machine
  // checks at once: every no-op stage is one task-queue round trip.
  const isOneTrip = patched('one-trip-stages');
  // Patch deploying-in-one-activity: the fly.toml is read and the `deploying` entry recorded in one
  // activity, so the rollout is woken by one completion besides its own instead of two.
  const isDeployingInOneActivity = patched('deploying-in-one-activity');
  // Patch health-in-one-activity: the probe and the machine checks at once inside one activity (one completion).
  const isHealthInOneActivity = patched('health-in-one-activity');
  // Patch preflight-resolves-target: the deploy target is resolved by preflight's one activity, so the
  // run's first workflow task holds no local activity.
  const isTargetInPreflight = patched('preflight-resolves-target');
  const run = new RunTracker({ kind: 'deploy', app: request.app, environment: request.environment, trigger: request.trigger }, DEPLOY_STAGES);
  setHandler(statusQuery, () => run.status);
  const cancellation = acceptCancelReasons(run);
  const decisions = listenForDecisions(run, cancellation);

  let target: DeployTarget | undefined;
  let lastKnownGoodImage: string | undefined;
  let workspace: string | undefined;
  let image = request.image;
  let hasDeployStarted = false;
  let github: GitHubDeploymentReporter | undefined;
  let ledgerEntries: LedgerEntry[] = [];
  try {
    const firstReads = isTargetInPreflight && hasLedger && isPreflightOneRead ? await run.stage('preflight', () => resolveTargetAndRead(request, run)) : undefined;
    target = firstReads?.target ?? await run.stage('preflight', () => resolveTarget(request, run, isQuick));
    if (hasGitHubDeployments) github = gitHubDeploymentOf(run, target, request);
    github?.post('queued', 'Flightdeck: preflight, then tests and build');
    // Only when frozen: an extra await would reorder this task's commands for histories from before freezes.
    if (target.freeze) await passFreeze(run, target, target.freeze, request);
    const preflightResult = await run.stage('preflight', () => (hasLedger ? preflightWithLedger(target!, run, isPreflightOneRead ? 'one-read' : isQuick ? 'parallel' : 'sequential', firstReads?.reads) : preflight(target!, run)),
      (r) => `last known good ${r.lastKnownGoodImage ?? 'none'}`);
    lastKnownGoodImage = preflightResult.lastKnownGoodImage;
    ledgerEntries = preflightResult.entries ?? [];

    let commit = request.sha;
    if (image) {
      const why = request.promotion ? `promoted from ${request.promotion.fromEnvironment}` : 'prebuilt image';
      run.skip('test', why);
      run.skip('build', why);
      if (request.promotion) run.fact('promoted from', `${request.promotion.fromEnvironment} (${request.promotion.entryId})`);
    } else {
      const checkout = await run.stage('test', () => checkoutAndTest(request, target!, run, hasRunnerQueue ? target!.runnerTaskQueue : undefined, isOneTrip), () => target!.testCommand?.join(' ') ?? 'no test command');
      workspace = checkout.workspace;
      commit = checkout.sha;
      image = await run.stage('build', () => build(target!, workspace!, commit), (ref) => ref);
    }
    run.fact('image', image);

    let safety: MigrationSafetyGate | undefined;
    if (hasMigrationSafety && target.hasMigrations) {
      run.addStage('lint', 'approval');
      safety = await run.stage('lint', () => checkMigrationSafety(run, target!, workspace), (gate) => gate.report && summarizeMigrationSafety(gate.report));
    }

    if (target.approval.isRequired || safety?.approvalMessage) await run.stage('approval', () => awaitApproval(run, decisions.approval, target!.approval, { nothingChanged: 'nothing was deployed', rejectedType: 'DeployRejected' }, safety?.approvalMessage));
    else run.skip('approval', 'not required');

    let applied: AppliedMigrations | undefined;
    if (target.hasMigrations) {
      const migration = await run.stage('migrate', () => migrate(target!, request, workspace, hasLedger));
      if (hasMigrationSafety) applied = appliedMigrationsOf(safety, migration);
    } else {
      run.skip('migrate', 'no migrations');
    }

    // The ledger entry is written while the rollout runs, off the critical path; every verdict waits for it.
    let isRecorded: Promise<void> = Promise.resolve();
    let releaseVersion: number | undefined;
    const recordVerdict = async (record: Parameters<typeof recordInLedger>[2]) => {
      if (!hasLedger) return;
      await isRecorded;
      await recordInLedger(run, target!, { releaseVersion, finishedAt: nowIso(), ...record });
    };
    try {
      hasDeployStarted = true;
      github?.post('in_progress', `Rolling out ${image}`);
      if (hasLedger) isRecorded = CancellationScope.nonCancellable(() => recordDeploying(run, target!, request, image!, commit, workspace, applied?.record, isDeployingInOneActivity));
      const analysis = hasBakeAnalysis && target.bakeMs > 0 ? target.analysis : undefined;
      const deployStartedAt = new Date().toISOString();
      const logBaseline = analysis ? readLogBaseline(target, analysis, deployStartedAt) : undefined;
      const release = await run.stage('deploy', () => deploy(target!, image!, preflightResult.releaseVersion, workspace, request.promotion?.flyConfig?.content), (r) => (r.releaseVersion ? `release v${r.releaseVersion}` : undefined));
      releaseVersion = release.releaseVersion;
      run.fact('release', release.releaseVersion === undefined ? undefined : `v${release.releaseVersion}`);
      const appUrl = await run.stage('health', () => verifyHealth(target!, isQuick ? preflightResult.appUrl : undefined, isHealthInOneActivity ? 'one-activity' : isOneTrip ? 'at-once' : 'sequential'), (r) => r.detail);
      if (github) github.environmentUrl = appUrl.appUrl;
      await run.stage('smoke', () => verifySmoke(target!, appUrl.appUrl, workspace, (results) => { run.status.checks = results; }, hasRunnerQueue ? target!.runnerTaskQueue : undefined), describeChecksPassed);
      if (analysis) {
        await run.stage('bake', () => bakeWithAnalysis(run, target!, analysis, () => bake(target!, appUrl.url), { deployStartedAt, logs: logBaseline! }),
          (r) => `${r.probe.probes} probes; ${describeAnalysis(r.analysis)}`);
      } else if (target.bakeMs > 0) {
        await run.stage('bake', () => bake(target!, appUrl.url), (r) => `${r.probes} probes`);
      } else {
        run.skip('bake', 'no bake window');
      }
      await recordVerdict({ verdict: 'verified' });
      run.setState('succeeded', `Deployed ${image}${release.releaseVersion ? ` as release v${release.releaseVersion}` : ''}.`);
      return { image, releaseVersion: release.releaseVersion, lastKnownGoodImage };
    } catch (err) {
      if (isCancellation(err)) throw err;
      const failedStage = run.status.currentStage ?? 'deploy';
      if (hasLedger ? isNothingRolledOut(failureType(err)) : failureType(err) === PermanentError.ReleaseCommandFailed) {
        await recordVerdict({ verdict: 'failed', stage: failedStage, reason: `nothing was rolled out: ${rootMessage(err)}` });
        throw stop(run, `Nothing was rolled out, so nothing was rolled back: ${rootMessage(err)}`, failureType(err));
      }
      const recovery = () => recover(run, target!, decisions, lastKnownGoodImage, request, rootMessage(err), hasLedger ? image : undefined, applied);
      const outcome = hasLedger ? await CancellationScope.nonCancellable(recovery) : await recovery();
      await recordVerdict({ ...outcome, stage: failedStage, reason: rootMessage(err) });
      throw ApplicationFailure.nonRetryable(run.status.outcome ?? rootMessage(err), 'DeployRolledBack');
    } finally {
      await CancellationScope.nonCancellable(() => isRecorded);
    }
  } catch (err) {
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(async () => {
        const reason = cancelledDuring(cancellation, run.status.currentStage ?? 'start');
        if (hasDeployStarted && target) {
          const outcome = await rollBack(run, target, lastKnownGoodImage, request, reason, hasLedger ? image : undefined);
          if (hasLedger) await recordInLedger(run, target, { ...outcome, reason, finishedAt: nowIso() });
        } else {
          run.setState('cancelled', `${reason}; nothing was deployed.`);
        }
        await run.flush();
      });
      throw err;
    }
    if (run.status.state === 'running') run.setState('failed', failureSentence(run, err));
    throw err instanceof ApplicationFailure ? err : ApplicationFailure.nonRetryable(run.status.outcome ?? rootMessage(err), failureType(err) ?? 'DeployFailed');
  } finally {
    await CancellationScope.nonCancellable(async () => {
      if (workspace) await local.removeWorkspace(workspace).catch(() => undefined);
      if (github) {
        github.close(run.status, ledgerEntries);
        await github.flush();
      }
      await run.flush();
    });
  }
}

// ---------------------------------------------------------------- stages

async function resolveTarget(request: DeployRequest, run: RunTracker, isQuick: boolean): Promise<DeployTarget> {
  const target = await (isQuick ? quickLocal : local).resolveDeployTarget({ app: request.app, environment: request.environment });
  return reportTarget(request, run, target);
}

/**
 * The target and preflight's reads in one activity (patch preflight-resolves-target); a frozen
 * environment's target comes without reads. When it fails, the target is resolved again as before:
 * a target that cannot be resolved fails as it always did; otherwise the reads' failure is the
 * verdict, reported on the target's channel with its facts, as when the reads came second.
 */
async function resolveTargetAndRead(request: DeployRequest, run: RunTracker): Promise<TargetAndPreflightReads> {
  let first: TargetAndPreflightReads;
  try {
    first = await fly.resolveAndReadPreflight({ app: request.app, environment: request.environment });
  } catch (err) {
    if (isCancellation(err)) throw err;
    await resolveTarget(request, run, true);
    throw err;
  }
  reportTarget(request, run, first.target);
  return first;
}

function reportTarget(request: DeployRequest, run: RunTracker, target: DeployTarget): DeployTarget {
  run.reportTo(target.slackChannel, target.temporalUiBase);
  run.fact('fly app', target.flyApp);
  if (request.sha) run.fact('commit', request.sha.slice(0, 12));
  return target;
}

/**
 * A freeze window refuses the deploy (a freeze that began while it waited in the queue, or a CLI run)
 * unless someone on the environment's breakGlass list broke the glass: audit-logged and announced.
 */
async function passFreeze(run: RunTracker, target: DeployTarget, freeze: ActiveFreeze, request: DeployRequest): Promise<void> {
  const identity = request.trigger.identity;
  if (!request.breakGlass || !mayBreakGlass(freeze, identity)) {
    run.setState('refused', describeFreeze(target.app, target.environment, freeze));
    throw ApplicationFailure.nonRetryable(run.status.outcome!, 'DeployFrozen');
  }
  run.fact('break-glass', `${identity}: ${request.breakGlass.reason}`);
  run.thread(`Break-glass: ${identity} deploys through the freeze (${freeze.reason}, until ${freeze.until}): ${request.breakGlass.reason}`);
  await local.recordAudit({
    actor: identity!, action: 'break-glass', target: `${target.app}/${target.environment}`, outcome: 'allowed',
    source: request.trigger.source, detail: request.breakGlass.reason,
  });
}

interface PreflightResult { lastKnownGoodImage?: string; releaseVersion?: number; appUrl?: string; entries?: LedgerEntry[] }

/** The app exists and auth works; required secrets exist; the database answers. isQuick: both reads at once. */
async function checkAppIsReady(target: DeployTarget, isQuick = false) {
  const [status, secretNames] = isQuick
    ? await Promise.all([fly.flyAppStatus(target.flyApp), fly.flySecretNames(target.flyApp)])
    : [await fly.flyAppStatus(target.flyApp), await fly.flySecretNames(target.flyApp)];
  await assertReady(target, secretNames);
  return status;
}

async function assertReady(target: DeployTarget, secretNames: string[]): Promise<void> {
  const missing = target.requiredSecrets.filter((name) => !secretNames.includes(name));
  if (missing.length) {
    throw ApplicationFailure.nonRetryable(`${target.flyApp} is missing required secrets: ${missing.join(', ')} (set them with fly secrets set)`, PermanentError.SecretsMissing);
  }
  if (target.databaseSecret) await local.checkDatabaseReachable({ secretName: target.databaseSecret });
}

/** How preflight reads: one activity (preflight-one-read), two at once (quick-stages), or one after another. */
type PreflightReading = 'one-read' | 'parallel' | 'sequential';

/** known: the reads preflight's first activity made with the target (patch preflight-resolves-target). */
async function readPreflight(target: DeployTarget, reading: PreflightReading, known?: PreflightReads): Promise<[FlyAppStatus, LedgerEntry[]]> {
  if (reading === 'one-read') {
    const reads = known ?? await fly.readPreflight({ flyApp: target.flyApp, app: target.app, environment: target.environment });
    await assertReady(target, reads.secretNames);
    return [reads.status, reads.entries];
  }
  return reading === 'parallel'
    ? Promise.all([checkAppIsReady(target, true), readLedger(target)])
    : [await checkAppIsReady(target), await readLedger(target)];
}

/**
 * Ready, and the last known good release is the newest one the ledger calls good. An image that
 * serves but Flightdeck never deployed is adopted only if it passes health and smoke checks now.
 */
async function preflightWithLedger(target: DeployTarget, run: RunTracker, reading: PreflightReading, reads?: PreflightReads): Promise<PreflightResult> {
  const [status, entries] = await readPreflight(target, reading, reads);
  const serving = status.servingImage;
  const isServingAdopted = serving !== undefined && !isKnownImage(entries, serving) && await adoptServingImage(target, run, serving, status.appUrl);
  const known = isServingAdopted ? serving : lastKnownGood(entries)?.image;
  if (known) run.fact('last known good', known);
  return { lastKnownGoodImage: known, releaseVersion: status.releaseVersion, appUrl: status.appUrl, entries };
}

/** Records a serving image Flightdeck never deployed: verified-by-probe if health and smoke pass now. */
async function adoptServingImage(target: DeployTarget, run: RunTracker, image: string, appUrl: string): Promise<boolean> {
  const settings = probeSettings(target);
  let verdict: ReleaseVerdict = 'verified-by-probe';
  let reason: string | undefined;
  try {
    await proxyActivities<Activities>(probeOptions(settings.deadlineMs)).probeHealth({ ...settings, url: healthUrl(target, appUrl) });
    await verifySmoke(target, appUrl, undefined, () => undefined);
  } catch (err) {
    verdict = 'unverified';
    reason = rootMessage(err);
  }
  await recordInLedger(run, target, {
    id: `${workflowInfo().workflowId}/adopted`, kind: 'adopted', image, trigger: { source: 'pipeline', actor: 'flightdeck' },
    startedAt: nowIso(), finishedAt: nowIso(), verdict, stage: 'preflight', reason,
  });
  return verdict === 'verified-by-probe';
}

/** Before the ledger (patch release-ledger): whatever serves and passes health was "known good". */
async function preflight(target: DeployTarget, run: RunTracker): Promise<PreflightResult> {
  const status = await checkAppIsReady(target);
  if (!status.servingImage) return { releaseVersion: status.releaseVersion };
  const settings = probeSettings(target);
  await proxyActivities<Activities>(probeOptions(settings.deadlineMs)).probeHealth({ ...settings, url: healthUrl(target, status.appUrl) });
  run.fact('last known good', status.servingImage);
  return { lastKnownGoodImage: status.servingImage, releaseVersion: status.releaseVersion };
}

/** Checkout budget: a clone of a big repository, retried once. */
const CHECKOUT_TIMEOUT_MS = 10 * 60_000;

/** isOneTrip (patch one-trip-stages): the checkout and the tests in one activity, under the tests' retry policy. */
async function checkoutAndTest(
  request: DeployRequest, target: DeployTarget, run: RunTracker, runnerTaskQueue: string | undefined, isOneTrip: boolean,
): Promise<{ workspace: string; sha: string }> {
  const checkoutInput = { repository: target.repository, credential: target.repositoryCredential, ref: request.ref, sha: request.sha, runKey: workflowInfo().workflowId };
  const test = target.testCommand
    ? { command: target.testCommand, timeoutMs: target.testTimeoutMs, failureType: PermanentError.TestsFailed, label: 'tests', app: target.app, kind: 'test' as const }
    : undefined;
  if (isOneTrip) {
    const checkout = await proxyActivities<Activities>({ ...appCommandOptions(CHECKOUT_TIMEOUT_MS + (test ? target.testTimeoutMs : 0)), taskQueue: runnerTaskQueue })
      .checkoutAndTest({ ...checkoutInput, ...(test ? { test } : {}) });
    run.fact('commit', checkout.sha.slice(0, 12));
    return checkout;
  }
  const checkout = await proxyActivities<Activities>({ ...commandOptions(CHECKOUT_TIMEOUT_MS), taskQueue: runnerTaskQueue }).checkoutCommit(checkoutInput);
  run.fact('commit', checkout.sha.slice(0, 12));
  if (test) {
    await proxyActivities<Activities>({ ...appCommandOptions(target.testTimeoutMs), taskQueue: runnerTaskQueue }).runWorkspaceCommand({ ...test, workspace: checkout.workspace });
  }
  return { workspace: checkout.workspace, sha: checkout.sha };
}

/** The image is tagged `<commit>-<run>`, so `fly releases --image` and `fly image show` tell which commit runs. */
async function build(target: DeployTarget, workspace: string, commit: string | undefined): Promise<string> {
  const imageLabel = `${(commit ?? workflowInfo().runId).slice(0, 12)}-${workflowInfo().runId.slice(0, 8)}`;
  return proxyActivities<Activities>(onTaskQueue(buildOptions, target.deployTaskQueue)).flyBuildImage({ flyApp: target.flyApp, workspace, imageLabel, timeoutMs: 25 * 60_000 });
}

async function migrate(target: DeployTarget, request: DeployRequest, workspace: string | undefined, hasLedger: boolean): Promise<MigrateResult> {
  return executeChild<(input: MigrateRequest) => Promise<MigrateResult>>('migrateDatabase', {
    workflowId: `${workflowInfo().workflowId}/migrate`,
    typedSearchAttributes: runSearchAttributes({ kind: 'migrate', app: target.app, environment: target.environment }),
    // A pipeline that is terminated asks its migration to stop at a safe point rather than killing it mid-statement.
    parentClosePolicy: hasLedger ? ParentClosePolicy.REQUEST_CANCEL : undefined,
    args: [{ app: target.app, environment: target.environment, action: 'apply', workspace, trigger: { ...request.trigger, source: 'pipeline' } }],
  });
}

/** configContent: the fly.toml another environment verified the image with (a promotion). */
async function deploy(target: DeployTarget, image: string, baselineReleaseVersion: number | undefined, workspace: string | undefined, configContent?: string) {
  const waitTimeoutMs = durationToMs(target.waitTimeout);
  return proxyActivities<Activities>(onTaskQueue(flyDeployOptions(waitTimeoutMs), target.deployTaskQueue)).flyDeployImage({
    flyApp: target.flyApp, image, strategy: target.strategy, waitTimeout: target.waitTimeout,
    baselineReleaseVersion: baselineReleaseVersion ?? null, workDir: `deploys/${workflowInfo().workflowId}`,
    configPath: workspace ? `${workspace}/fly.toml` : undefined,
    ...(configContent !== undefined && !workspace ? { configContent } : {}),
  });
}

async function bake(target: DeployTarget, url: string) {
  const settings = probeSettings(target);
  return proxyActivities<Activities>(probeOptions(target.bakeMs)).bakeProbe({
    url, durationMs: target.bakeMs, intervalMs: settings.intervalMs, requestTimeoutMs: settings.requestTimeoutMs,
    ...(settings.expectJson ? { expectJson: settings.expectJson } : {}),
  });
}

// ---------------------------------------------------------------- failure handling

/** What became of a release that failed its checks, for the ledger. */
interface RecoveryOutcome {
  verdict: ReleaseVerdict;
  rolledBackTo?: string;
}

/**
 * After a failed rollout: roll back (default), or with onFailure=pause ask a person first. After a
 * rollback-incompatible migration, always ask: the previous image may not work with the new schema.
 */
async function recover(
  run: RunTracker, target: DeployTarget, decisions: Decisions, lastKnownGoodImage: string | undefined, request: DeployRequest, reason: string,
  failingImage: string | undefined, applied?: AppliedMigrations,
): Promise<RecoveryOutcome> {
  run.thread(`:x: ${run.status.currentStage} failed: ${reason}`);
  if (applied?.incompatible.length) return recoverAfterIncompatibleMigration(run, target, decisions, lastKnownGoodImage, request, reason, failingImage, applied);
  if (target.onFailure === 'pause') {
    run.setState('waiting-for-decision', `${run.status.currentStage} failed: ${reason}. Roll back or keep? Rolling back in ${target.pauseTimeout} unless someone decides.`);
    const isDecided = await condition(() => decisions.failure.decision !== undefined, target.pauseTimeout);
    if (isDecided && decisions.failure.decision!.decision === 'keep') {
      run.fact('kept by', decisions.failure.decision!.actor);
      run.setState('failed', `${reason}. ${decisions.failure.decision!.actor} chose to keep the new release; no rollback.`);
      return { verdict: 'kept' };
    }
    run.fact('rollback decided by', isDecided ? decisions.failure.decision!.actor : `nobody within ${target.pauseTimeout}`);
    run.setState('running');
  }
  return rollBack(run, target, lastKnownGoodImage, request, reason, failingImage);
}

/** Never a blind rollback over a migration the previous image may not live with: a person decides, and silence keeps the release. */
async function recoverAfterIncompatibleMigration(
  run: RunTracker, target: DeployTarget, decisions: Decisions, lastKnownGoodImage: string | undefined, request: DeployRequest, reason: string,
  failingImage: string | undefined, applied: AppliedMigrations,
): Promise<RecoveryOutcome> {
  run.status.decisionOptions = applied.restore ? ['rollback', 'keep', 'restore'] : ['rollback', 'keep'];
  run.setState('waiting-for-decision', describeIncompatiblePause(run.status.currentStage ?? 'deploy', reason, applied, target.pauseTimeout));
  const isDecided = await condition(() => decisions.failure.decision !== undefined, target.pauseTimeout);
  run.status.decisionOptions = undefined;
  if (!isDecided) {
    run.setState('failed', `${reason}. Nobody decided within ${target.pauseTimeout}; nothing was rolled back, since the previous image may not work with the migrated schema. Act now.`);
    return { verdict: 'failed' };
  }
  const { decision, actor } = decisions.failure.decision!;
  if (decision === 'keep') {
    run.fact('kept by', actor);
    run.setState('failed', `${reason}. ${actor} chose to keep the new release; no rollback.`);
    return { verdict: 'kept' };
  }
  run.fact('rollback decided by', actor);
  run.setState('running');
  const outcome = await rollBack(run, target, lastKnownGoodImage, request, reason, failingImage);
  // Restoring the old schema under a new image that still serves would break it too: only after the image went back.
  if (decision === 'restore' && applied.restore && outcome.verdict === 'rolled-back') await startPreMigrationRestore(run, applied.restore, actor);
  return outcome;
}

/** The restore runs on its own (it asks the database's restorers to approve overwriting it) and outlives this run. */
async function startPreMigrationRestore(run: RunTracker, restore: NonNullable<AppliedMigrations['restore']>, actor: string): Promise<void> {
  const workflowId = `${workflowInfo().workflowId}/restore`;
  try {
    await startChild<(input: RestoreRequest) => Promise<RestoreResult>>('restoreDatabase', {
      workflowId,
      typedSearchAttributes: runSearchAttributes({ kind: 'restore', database: restore.database }),
      parentClosePolicy: ParentClosePolicy.ABANDON,
      args: [{
        database: restore.database, backupId: restore.backupId, targetDatabase: restore.pgDatabase, isOverwriteConfirmed: true,
        trigger: { source: 'pipeline', actor },
      }],
    });
    run.fact('restore', workflowId);
    run.setState(run.status.state, `${run.status.outcome ?? ''} Restoring the pre-migration backup ${restore.backupId} over ${restore.pgDatabase}: run ${workflowId}, which asks the database's restorers to approve.`.trim());
  } catch (err) {
    run.setState(run.status.state, `${run.status.outcome ?? ''} The restore of the pre-migration backup ${restore.backupId} could not start: ${rootMessage(err)}. Restore it by hand (docs/backups.md).`.trim());
  }
}

/**
 * Rolls back through the rollback workflow. With the ledger (failingImage given) the rollback picks
 * the last known good release itself and outlives this run (ABANDON): a pipeline that is terminated
 * must not leave the app half rolled back.
 */
async function rollBack(
  run: RunTracker, target: DeployTarget, lastKnownGoodImage: string | undefined, request: DeployRequest, reason: string,
  failingImage: string | undefined,
): Promise<RecoveryOutcome> {
  if (!lastKnownGoodImage) {
    run.setState('failed', `${reason}. No verified release was serving before this deploy, so there is nothing to roll back to. Act now.`);
    return { verdict: 'failed' };
  }
  const trigger = { ...request.trigger, source: 'pipeline' as const };
  let result: RollbackResult;
  try {
    result = await run.stage('rollback', () => executeChild(rollback, {
      workflowId: `${workflowInfo().workflowId}/rollback`,
      typedSearchAttributes: runSearchAttributes({ kind: 'rollback', app: target.app, environment: target.environment }),
      args: [failingImage
        ? { app: target.app, environment: target.environment, failingImage, reason, trigger }
        : { app: target.app, environment: target.environment, lastKnownGoodImage, reason, trigger }],
      parentClosePolicy: failingImage ? ParentClosePolicy.ABANDON : undefined,
    }), (r) => `to ${r.image}`);
  } catch (err) {
    run.setState('failed', `${reason}. The automatic rollback ALSO failed: ${rootMessage(err)}. Act now.`);
    return { verdict: 'failed' };
  }
  run.fact('rolled back to', result.image);
  const checks = failingImage ? 'which passed health and smoke checks' : 'which is healthy';
  run.setState('rolled-back', `${reason}. Rolled back to ${result.image}, ${checks}. The database schema was not rolled back.`);
  return { verdict: 'rolled-back', rolledBackTo: result.image };
}

/**
 * The deploy is recorded as its rollout starts: a crash mid-rollout leaves a `deploying` entry, never
 * a good one. isOneActivity (patch deploying-in-one-activity): the fly.toml read and the record in one activity.
 */
async function recordDeploying(
  run: RunTracker, target: DeployTarget, request: DeployRequest, image: string, commit: string | undefined, workspace: string | undefined, migrations: ReleaseMigrations | undefined,
  isOneActivity: boolean,
): Promise<void> {
  if (isOneActivity) {
    const flyConfig = workspace ? undefined : request.promotion?.flyConfig;
    return recordDeployingInLedger(run, target, { kind: 'deploy', image, commit, flyConfig, trigger: request.trigger, startedAt: nowIso(), verdict: 'deploying', migrations }, workspace);
  }
  let flyConfig: FlyConfigSnapshot | undefined;
  try {
    flyConfig = workspace ? await local.readFlyConfig({ workspace }) : request.promotion?.flyConfig;
  } catch (err) {
    run.fact('fly.toml', `not kept in the ledger: ${rootMessage(err)}`);
  }
  await recordInLedger(run, target, {
    kind: 'deploy', image, commit, flyConfig, trigger: request.trigger, startedAt: nowIso(), verdict: 'deploying', migrations,
  });
}

function stop(run: RunTracker, outcome: string, type = PermanentError.ReleaseCommandFailed as string): ApplicationFailure {
  run.setState('failed', outcome);
  return ApplicationFailure.nonRetryable(outcome, type);
}

function failureSentence(run: RunTracker, err: unknown): string {
  const stage = run.status.stages.find((s) => s.state === 'failed')?.name ?? run.status.currentStage ?? 'start';
  const nothingDeployed = ['preflight', 'test', 'build', 'lint', 'approval', 'migrate'].includes(stage) ? ' Nothing was deployed.' : '';
  return `${stage} failed: ${rootMessage(err)}.${nothingDeployed}`;
}

// ---------------------------------------------------------------- messages from people

interface Decisions {
  approval: ApprovalGate;
  failure: DecisionGate;
}

function listenForDecisions(run: RunTracker, cancellation: Cancellation): Decisions {
  const decisions: Decisions = {
    approval: acceptApprovals(run, (actor) => `${actor} is not an approver for ${run.status.app} ${run.status.environment}`),
    failure: acceptFailureDecisions(run),
  };
  // Sent by clients before Temporal's cancellation was used (it closes the run FAILED): still honoured.
  setHandler(cancelSignal, (request) => {
    cancellation.remember(request);
    CancellationScope.current().cancel();
  });
  return decisions;
}
