// The operations people and systems start: the API, the CLI and Slack all call these, so a deploy
// started from any of them takes the same path. Workflows are named by type, not imported.
import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { deployQueueId, deployQueueStartOperation } from './deployQueueAddress.js';
import { deployLockRefusal, deployQueueStatus, describeLockRefusal } from './deployLocks.js';
import { deployRunId } from './deployRunId.js';
import { resolveTarget, type AppsConfig } from './config.js';
import { checkFreeze } from './deployFreeze.js';
import { durationToMs } from './duration.js';
import { autoPromotionId, choosePromotion, promotionCandidateSignal, PromotionRefused, type PromotionCandidate } from './promotion.js';
import { readLedger } from './releaseLedgerClient.js';
import { runSearchAttributes } from './runSearchAttributes.js';
import {
  acceptDeploySignal, approvalUpdate, cancelReasonSignal, enqueueDeployUpdate, failureDecisionUpdate, statusQuery,
  type ApprovalDecision, type CancelRequest, type DeployRequest, type EnqueueResult, type FailureDecision, type RollbackRequest, type RunStatus, type Trigger,
} from './messages.js';

export { deployQueueId } from './deployQueueAddress.js';

/**
 * Queues a deploy (starting the app's queue if needed) and returns the pipeline's workflow id.
 * Throws DeployLockedError when the app and environment are locked.
 */
export async function requestDeploy(client: Client, taskQueue: string, request: DeployRequest): Promise<EnqueueResult> {
  const startWorkflowOperation = deployQueueStartOperation(taskQueue, request.app, request.environment);
  return client.workflow.executeUpdateWithStart(enqueueDeployUpdate, { args: [request], startWorkflowOperation })
    .catch((err: unknown) => { throw deployLockRefusal(err, request.app, request.environment) ?? err; });
}

/**
 * Hands a deploy to the app's queue durably and answers at once (signal-with-start: the Temporal
 * server alone accepts it, no worker in the path): what webhooks use, since GitHub waits 10 s at most
 * and does not retry, and a worker may be restarting. The run id is derived from the delivery as the
 * queue would, so a re-delivery is answered with the same id; a lock's refusal shows as the run's status.
 */
export async function acceptDeploy(client: Client, taskQueue: string, request: DeployRequest): Promise<EnqueueResult> {
  const workflowId = deployRunId(request, randomUUID);
  await client.workflow.signalWithStart('deployQueue', {
    workflowId: deployQueueId(request.app, request.environment), taskQueue, args: [],
    signal: acceptDeploySignal, signalArgs: [{ workflowId, request }],
  });
  return { workflowId, disposition: 'accepted' };
}

export interface PromotionInput {
  app: string;
  from: string;
  to: string;
  /** A specific image the source environment verified; default: its newest verified release. */
  image?: string;
  breakGlass?: { reason: string };
  trigger: Trigger;
}

/**
 * Deploys to `to` exactly the image (and fly.toml) `from` verified, read from `from`'s release
 * ledger: through `to`'s queue, so its locks and approval apply. Throws PromotionRefused (nothing
 * starts) for an unverified image, a soak not yet over, or environments that are not set up for it.
 */
export async function requestPromotion(client: Client, taskQueue: string, config: AppsConfig, input: PromotionInput): Promise<EnqueueResult & { image: string }> {
  const { env } = resolveTarget(config, input.app, input.to);
  resolveTarget(config, input.app, input.from);
  if (input.from === input.to) throw new PromotionRefused(`promote from one environment to another: ${input.from} twice`);
  if (env.promotion && env.promotion.from !== input.from) {
    throw new PromotionRefused(`${input.app}/${input.to} takes promotions from ${env.promotion.from} only (environments.${input.to}.promotion.from), not ${input.from}`);
  }
  const entries = await readLedger(client, { app: input.app, environment: input.from });
  const soakMs = env.promotion ? durationToMs(env.promotion.soak) : 0;
  const chosen = choosePromotion(entries, { app: input.app, environment: input.from }, { image: input.image, soakMs, nowMs: Date.now() });
  checkFreeze(input.app, input.to, env, input.breakGlass, input.trigger.identity, Date.now());
  const result = await requestDeploy(client, taskQueue, {
    app: input.app, environment: input.to, image: chosen.image, ...(chosen.commit ? { sha: chosen.commit } : {}),
    ...(input.breakGlass ? { breakGlass: input.breakGlass } : {}),
    promotion: { fromEnvironment: input.from, entryId: chosen.id, ...(chosen.flyConfig ? { flyConfig: chosen.flyConfig } : {}) },
    trigger: input.trigger,
  });
  return { ...result, image: chosen.image };
}

/**
 * Offers a verified release for automatic promotion to `to` (promotion.auto): the environment's one
 * autoPromotion workflow waits out the soak, and a newer offer replaces one still waiting.
 */
export async function offerForAutoPromotion(client: Client, taskQueue: string, input: { app: string; from: string; to: string; candidate: PromotionCandidate }): Promise<void> {
  await client.workflow.signalWithStart('autoPromotion', {
    workflowId: autoPromotionId(input.app, input.to), taskQueue, args: [{ app: input.app, from: input.from, to: input.to }],
    signal: promotionCandidateSignal, signalArgs: [input.candidate],
  });
}

/**
 * Starts a rollback; one per app and environment at a time: while one runs, a second request (a
 * double click, a retried API call) gets that run instead of starting another.
 */
export async function requestRollback(client: Client, taskQueue: string, request: RollbackRequest): Promise<string> {
  const workflowId = `rollback/${request.app}/${request.environment}/manual`;
  await client.workflow.start('rollback', {
    workflowId, taskQueue, args: [request], workflowIdConflictPolicy: 'USE_EXISTING',
    typedSearchAttributes: runSearchAttributes({ kind: 'rollback', app: request.app, environment: request.environment }),
  });
  return workflowId;
}

/**
 * The run's status. A deploy id handed out by the queue may have no workflow yet: it is waiting
 * behind the running deploy, or a newer request replaced it; the queue answers for those.
 */
export async function runStatus(client: Client, workflowId: string): Promise<RunStatus> {
  const query = () => client.workflow.getHandle(workflowId).query(statusQuery);
  try {
    return await query();
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError) || !workflowId.startsWith('deploy/')) throw err;
    const [, app, environment] = workflowId.split('/');
    const queue = await deployQueueStatus(client, { app: app!, environment: environment! });
    if (queue?.running?.workflowId === workflowId) {
      const { request } = queue.running;
      // Started by the queue between the query and now, or being started right now.
      return query().catch((retryErr: unknown) => {
        if (retryErr instanceof WorkflowNotFoundError) return notStartedDeploy(workflowId, request, 'queued', 'starting');
        throw retryErr;
      });
    }
    if (queue?.waiting?.workflowId === workflowId) {
      return notStartedDeploy(workflowId, queue.waiting.request, 'queued', `waiting behind ${queue.running?.workflowId ?? 'the deploy in progress'}`);
    }
    const refusal = queue?.refused?.find((r) => r.workflowId === workflowId);
    if (refusal) {
      return notStartedDeploy(workflowId, refusal.request, 'refused', `refused, nothing was deployed. ${describeLockRefusal(refusal.request.app, refusal.request.environment, refusal.lock)}`);
    }
    if (queue?.superseded.includes(workflowId)) {
      const replacedBy = queue.waiting?.workflowId ?? queue.running?.workflowId;
      return notStartedDeploy(workflowId, { app: app!, environment: environment!, trigger: { source: 'api', actor: 'unknown' } }, 'superseded',
        `replaced by a newer deploy${replacedBy ? ` (${replacedBy})` : ''} before it started; nothing was deployed`);
    }
    throw err;
  }
}

function notStartedDeploy(workflowId: string, request: DeployRequest, state: 'queued' | 'superseded' | 'refused', outcome: string): RunStatus {
  const now = new Date().toISOString();
  return {
    kind: 'deploy', workflowId, app: request.app, environment: request.environment, state, trigger: request.trigger,
    startedAt: now, ...(state === 'queued' ? {} : { finishedAt: now }), stages: [], facts: {}, outcome,
  };
}

export async function decideApproval(client: Client, workflowId: string, decision: ApprovalDecision): Promise<void> {
  await client.workflow.getHandle(workflowId).executeUpdate(approvalUpdate, { args: [decision] }).catch(explainRefusal);
}

export async function decideOnFailure(client: Client, workflowId: string, decision: FailureDecision): Promise<void> {
  await client.workflow.getHandle(workflowId).executeUpdate(failureDecisionUpdate, { args: [decision] }).catch(explainRefusal);
}

/**
 * Cancels a run with Temporal's own cancellation; it closes CANCELED. Who asked and why go first, by
 * signal, so the run's status and Slack message say so. Each kind stops at its next safe point: a
 * deploy whose rollout had started is rolled back, a backup leaves nothing stored, a restore stops
 * before its swap (or finishes the swap it began), a migration stops between statements.
 */
export async function cancelRun(client: Client, workflowId: string, request: CancelRequest): Promise<void> {
  const handle = client.workflow.getHandle(workflowId);
  await handle.signal(cancelReasonSignal, request);
  await handle.cancel();
}

/** A refused update carries the workflow's reason ("U1 is not an approver…") in its cause. */
function explainRefusal(err: unknown): never {
  if (err instanceof WorkflowUpdateFailedError && err.cause?.message) throw new Error(err.cause.message);
  throw err;
}
