// deploy.sh, made durable: preflight → test → build → (approval) → migrate → deploy → health →
// smoke → bake. When the new release fails after it started rolling out, Flightdeck rolls back to
// the last known good image by itself, verifies it, and says why.
import {
  ApplicationFailure, CancellationScope, condition, executeChild, isCancellation, proxyActivities, setHandler, workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { DeployTarget } from '../activities/deployTarget.js';
import { durationToMs } from '../lib/duration.js';
import { failureType, PermanentError, rootMessage } from '../lib/errors.js';
import {
  cancelSignal, failureDecisionUpdate, statusQuery,
  type DeployRequest, type FailureDecision, type RollbackResult,
} from '../lib/messages.js';
import { acceptApprovals, type ApprovalGate } from './approvalGate.js';
import { buildOptions, commandOptions, flyDeployOptions, flyReadOptions, localOptions, probeOptions } from './activityOptions.js';
import { healthUrl, probeSettings, verifyHealth } from './health.js';
import { rollback } from './rollback.js';
import { RunTracker } from './runTracker.js';

export const DEPLOY_STAGES = ['preflight', 'test', 'build', 'approval', 'migrate', 'deploy', 'health', 'smoke', 'bake'];

export interface DeployResult {
  image: string;
  releaseVersion?: number;
  lastKnownGoodImage?: string;
}

// A cancel reaches an activity only in the answer to a heartbeat, and the SDK sends one at most
// every 80% of the heartbeat timeout: 10 s here means a cancelled test run is killed within ~8 s.
const PROMPT_CANCEL = { heartbeatTimeout: '10s' } as const;

const local = proxyActivities<Activities>(localOptions);
const fly = proxyActivities<Activities>(flyReadOptions);

export async function deployPipeline(request: DeployRequest): Promise<DeployResult> {
  const run = new RunTracker({ kind: 'deploy', app: request.app, environment: request.environment, trigger: request.trigger }, DEPLOY_STAGES);
  setHandler(statusQuery, () => run.status);
  const decisions = listenForDecisions(run);

  let target: DeployTarget | undefined;
  let lastKnownGoodImage: string | undefined;
  let workspace: string | undefined;
  let hasDeployStarted = false;
  try {
    target = await run.stage('preflight', () => resolveTarget(request, run));
    const preflightResult = await run.stage('preflight', () => preflight(target!, run), (r) => `last known good ${r.lastKnownGoodImage ?? 'none'}`);
    lastKnownGoodImage = preflightResult.lastKnownGoodImage;

    let image = request.image;
    if (image) {
      run.skip('test', 'prebuilt image');
      run.skip('build', 'prebuilt image');
    } else {
      workspace = await run.stage('test', () => checkoutAndTest(request, target!, run), () => target!.testCommand?.join(' ') ?? 'no test command');
      image = await run.stage('build', () => build(target!, workspace!, request), (ref) => ref);
    }
    run.fact('image', image);

    if (target.approval.isRequired) await run.stage('approval', () => awaitApproval(target!, run, decisions));
    else run.skip('approval', 'not required');

    if (target.hasMigrations) await run.stage('migrate', () => migrate(target!, request, workspace));
    else run.skip('migrate', 'no migrations');

    try {
      hasDeployStarted = true;
      const release = await run.stage('deploy', () => deploy(target!, image!, preflightResult.releaseVersion, workspace), (r) => (r.releaseVersion ? `release v${r.releaseVersion}` : undefined));
      run.fact('release', release.releaseVersion === undefined ? undefined : `v${release.releaseVersion}`);
      const appUrl = await run.stage('health', () => verifyHealth(target!), (r) => r.detail);
      await run.stage('smoke', () => smoke(target!, appUrl.appUrl, run, workspace), (n) => `${n} ${n === 1 ? 'check' : 'checks'} passed`);
      if (target.bakeMs > 0) await run.stage('bake', () => bake(target!, appUrl.url), (r) => `${r.probes} probes`);
      else run.skip('bake', 'no bake window');
      run.setState('succeeded', `Deployed ${image}${release.releaseVersion ? ` as release v${release.releaseVersion}` : ''}.`);
      return { image, releaseVersion: release.releaseVersion, lastKnownGoodImage };
    } catch (err) {
      if (isCancellation(err)) throw err;
      if (failureType(err) === PermanentError.ReleaseCommandFailed) {
        throw stop(run, `The release_command failed, so nothing was rolled out: ${rootMessage(err)}`);
      }
      await recover(run, target, decisions, lastKnownGoodImage, request, rootMessage(err));
      throw ApplicationFailure.nonRetryable(run.status.outcome ?? rootMessage(err), 'DeployRolledBack');
    }
  } catch (err) {
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(async () => {
        if (hasDeployStarted && target) await rollBack(run, target, lastKnownGoodImage, request, `cancelled by ${decisions.cancelledBy ?? 'request'} during ${run.status.currentStage}`);
        else run.setState('cancelled', `Cancelled during ${run.status.currentStage ?? 'start'}; nothing was deployed.`);
        await run.flush();
      });
      throw err;
    }
    if (run.status.state === 'running') run.setState('failed', failureSentence(run, err));
    throw err instanceof ApplicationFailure ? err : ApplicationFailure.nonRetryable(run.status.outcome ?? rootMessage(err), failureType(err) ?? 'DeployFailed');
  } finally {
    await CancellationScope.nonCancellable(async () => {
      if (workspace) await local.removeWorkspace(workspace).catch(() => undefined);
      await run.flush();
    });
  }
}

// ---------------------------------------------------------------- stages

async function resolveTarget(request: DeployRequest, run: RunTracker): Promise<DeployTarget> {
  const target = await local.resolveDeployTarget({ app: request.app, environment: request.environment });
  run.reportTo(target.slackChannel, target.temporalUiBase);
  run.fact('fly app', target.flyApp);
  if (request.sha) run.fact('commit', request.sha.slice(0, 12));
  return target;
}

interface PreflightResult { lastKnownGoodImage?: string; releaseVersion?: number }

/** The app exists and auth works; required secrets exist; what serves now is healthy and recorded. */
async function preflight(target: DeployTarget, run: RunTracker): Promise<PreflightResult> {
  const status = await fly.flyAppStatus(target.flyApp);
  const secretNames = await fly.flySecretNames(target.flyApp);
  const missing = target.requiredSecrets.filter((name) => !secretNames.includes(name));
  if (missing.length) {
    throw ApplicationFailure.nonRetryable(`${target.flyApp} is missing required secrets: ${missing.join(', ')} (set them with fly secrets set)`, PermanentError.SecretsMissing);
  }
  if (target.databaseSecret) await local.checkDatabaseReachable({ secretName: target.databaseSecret });
  if (!status.servingImage) return { releaseVersion: status.releaseVersion };
  // Only an image that is healthy right now may become the rollback target.
  const settings = probeSettings(target);
  await proxyActivities<Activities>(probeOptions(settings.deadlineMs)).probeHealth({ ...settings, url: healthUrl(target, status.appUrl) });
  run.fact('last known good', status.servingImage);
  return { lastKnownGoodImage: status.servingImage, releaseVersion: status.releaseVersion };
}

async function checkoutAndTest(request: DeployRequest, target: DeployTarget, run: RunTracker): Promise<string> {
  const checkout = await proxyActivities<Activities>(commandOptions(10 * 60_000)).checkoutCommit({
    repository: target.repository, ref: request.ref, sha: request.sha, runKey: workflowInfo().workflowId,
  });
  run.fact('commit', checkout.sha.slice(0, 12));
  if (target.testCommand) {
    await proxyActivities<Activities>({ ...commandOptions(target.testTimeoutMs), ...PROMPT_CANCEL, retry: { maximumAttempts: 1 } }).runWorkspaceCommand({
      workspace: checkout.workspace, command: target.testCommand, timeoutMs: target.testTimeoutMs, failureType: PermanentError.TestsFailed, label: 'tests', app: target.app, kind: 'test',
    });
  }
  return checkout.workspace;
}

async function build(target: DeployTarget, workspace: string, request: DeployRequest): Promise<string> {
  const imageLabel = `flightdeck-${(request.sha ?? workflowInfo().runId).slice(0, 12)}-${workflowInfo().runId.slice(0, 8)}`;
  return proxyActivities<Activities>(buildOptions).flyBuildImage({ flyApp: target.flyApp, workspace, imageLabel, timeoutMs: 25 * 60_000 });
}

async function awaitApproval(target: DeployTarget, run: RunTracker, decisions: Decisions): Promise<string> {
  decisions.approval.approvers = target.approval.approvers;
  run.setState('waiting-for-approval');
  const isDecided = await condition(() => decisions.approval.decision !== undefined, target.approval.timeout);
  if (!isDecided) {
    run.setState('failed', `Nobody approved within ${target.approval.timeout}; the deploy was abandoned and nothing changed.`);
    throw ApplicationFailure.nonRetryable(run.status.outcome!, 'ApprovalTimedOut');
  }
  const decision = decisions.approval.decision!;
  run.fact(decision.isApproved ? 'approved by' : 'rejected by', decision.actor);
  if (!decision.isApproved) {
    run.setState('failed', `Rejected by ${decision.actor}${decision.comment ? `: ${decision.comment}` : ''}; nothing was deployed.`);
    throw ApplicationFailure.nonRetryable(run.status.outcome!, 'DeployRejected');
  }
  run.setState('running');
  return decision.actor;
}

async function migrate(target: DeployTarget, request: DeployRequest, workspace: string | undefined): Promise<void> {
  await executeChild('migrateDatabase', {
    workflowId: `${workflowInfo().workflowId}/migrate`,
    args: [{ app: target.app, environment: target.environment, action: 'apply', workspace, trigger: { ...request.trigger, source: 'pipeline' } }],
  });
}

async function deploy(target: DeployTarget, image: string, baselineReleaseVersion: number | undefined, workspace: string | undefined) {
  const waitTimeoutMs = durationToMs(target.waitTimeout);
  return proxyActivities<Activities>(flyDeployOptions(waitTimeoutMs)).flyDeployImage({
    flyApp: target.flyApp, image, strategy: target.strategy, waitTimeout: target.waitTimeout,
    baselineReleaseVersion, workDir: `deploys/${workflowInfo().workflowId}`, timeoutMs: waitTimeoutMs + 5 * 60_000,
    configPath: workspace ? `${workspace}/fly.toml` : undefined,
  });
}

async function smoke(target: DeployTarget, appUrl: string, run: RunTracker, workspace: string | undefined): Promise<number> {
  const baseUrl = target.health.url ? new URL(target.health.url).origin : appUrl;
  const results = await local.runSmokeChecks({ baseUrl, checks: target.smokeChecks });
  run.status.checks = results;
  const failed = results.filter((r) => !r.isPassed);
  if (failed.length) {
    throw ApplicationFailure.nonRetryable(`smoke checks failed: ${failed.map((r) => `${r.name} (${r.detail})`).join('; ')}`, PermanentError.SmokeCheckFailed);
  }
  if (target.smokeCommand && workspace) {
    await proxyActivities<Activities>({ ...commandOptions(10 * 60_000), ...PROMPT_CANCEL, retry: { maximumAttempts: 1 } }).runWorkspaceCommand({
      workspace, command: target.smokeCommand, timeoutMs: 10 * 60_000, failureType: PermanentError.SmokeCheckFailed, label: 'smoke command', app: target.app, kind: 'smoke',
    });
  }
  return results.length;
}

async function bake(target: DeployTarget, url: string) {
  const settings = probeSettings(target);
  return proxyActivities<Activities>(probeOptions(target.bakeMs)).bakeProbe({ url, durationMs: target.bakeMs, intervalMs: settings.intervalMs, requestTimeoutMs: settings.requestTimeoutMs });
}

// ---------------------------------------------------------------- failure handling

/** After a failed rollout: roll back (default), or with onFailure=pause ask a person first. */
async function recover(run: RunTracker, target: DeployTarget, decisions: Decisions, lastKnownGoodImage: string | undefined, request: DeployRequest, reason: string): Promise<void> {
  run.thread(`:x: ${run.status.currentStage} failed: ${reason}`);
  if (target.onFailure === 'pause') {
    run.setState('waiting-for-decision', `${run.status.currentStage} failed: ${reason}. Roll back or keep? Rolling back in ${target.pauseTimeout} unless someone decides.`);
    const isDecided = await condition(() => decisions.failure !== undefined, target.pauseTimeout);
    if (isDecided && decisions.failure!.decision === 'keep') {
      run.fact('kept by', decisions.failure!.actor);
      run.setState('failed', `${reason}. ${decisions.failure!.actor} chose to keep the new release; no rollback.`);
      return;
    }
    run.fact('rollback decided by', isDecided ? decisions.failure!.actor : `nobody within ${target.pauseTimeout}`);
    run.setState('running');
  }
  await rollBack(run, target, lastKnownGoodImage, request, reason);
}

async function rollBack(run: RunTracker, target: DeployTarget, lastKnownGoodImage: string | undefined, request: DeployRequest, reason: string): Promise<void> {
  if (!lastKnownGoodImage) {
    run.setState('failed', `${reason}. No healthy release was serving before this deploy, so there is nothing to roll back to.`);
    return;
  }
  let result: RollbackResult;
  try {
    result = await run.stage('rollback', () => executeChild(rollback, {
      workflowId: `${workflowInfo().workflowId}/rollback`,
      args: [{ app: target.app, environment: target.environment, lastKnownGoodImage, reason, trigger: { ...request.trigger, source: 'pipeline' } }],
    }), (r) => `to ${r.image}`);
  } catch (err) {
    run.setState('failed', `${reason}. The automatic rollback to ${lastKnownGoodImage} ALSO failed: ${rootMessage(err)}. Act now.`);
    return;
  }
  run.fact('rolled back to', result.image);
  run.setState('rolled-back', `${reason}. Rolled back to ${result.image}, which is healthy. The database schema was not rolled back.`);
}

function stop(run: RunTracker, outcome: string): ApplicationFailure {
  run.setState('failed', outcome);
  return ApplicationFailure.nonRetryable(outcome, PermanentError.ReleaseCommandFailed);
}

function failureSentence(run: RunTracker, err: unknown): string {
  const stage = run.status.stages.find((s) => s.state === 'failed')?.name ?? run.status.currentStage ?? 'start';
  const nothingDeployed = ['preflight', 'test', 'build', 'approval', 'migrate'].includes(stage) ? ' Nothing was deployed.' : '';
  return `${stage} failed: ${rootMessage(err)}.${nothingDeployed}`;
}

// ---------------------------------------------------------------- messages from people

interface Decisions {
  approval: ApprovalGate;
  failure?: FailureDecision;
  cancelledBy?: string;
}

function listenForDecisions(run: RunTracker): Decisions {
  const decisions: Decisions = {
    approval: acceptApprovals(run, (actor) => `${actor} is not an approver for ${run.status.app} ${run.status.environment}`),
  };
  setHandler(failureDecisionUpdate, (decision) => {
    decisions.failure ??= decision;
    return { state: run.status.state };
  }, {
    validator: (_decision: FailureDecision) => {
      if (run.status.state !== 'waiting-for-decision') throw new Error(`this deploy is not waiting for a decision (it is ${run.status.state})`);
    },
  });
  setHandler(cancelSignal, ({ actor }) => {
    decisions.cancelledBy = actor;
    CancellationScope.current().cancel();
  });
  return decisions;
}
