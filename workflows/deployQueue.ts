// One deploy at a time per app and environment. CI can fire three pushes in a minute: the queue
// runs one pipeline, keeps only the newest waiting request (newest commit wins), and answers a
// re-delivered webhook with the run it already started. It also holds the environment's deploy
// lock: while locked it refuses new deploys (rollbacks do not come through here, so they still run).
// Requests come as an update (the CLI, Slack, the write API: answered once the pipeline starts) or
// as a signal-with-start (webhooks: answered by the server alone, durable even with no worker up).
// Operations on the running app (the incident runbook, stop, start, scale) come through here too, so
// they never run during a deploy nor a deploy during them; they run before a waiting deploy, and a
// lock does not hold them (they release nothing new). A stopped app keeps its queue open: the queue
// holds the counts `flightdeck start` restores, and the stop's lock.
import {
  allHandlersFinished, ApplicationFailure, ChildWorkflowCancellationType, condition, continueAsNew, ParentClosePolicy, patched,
  proxyActivities, setHandler, startChild, uuid4, workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { durationToMs } from '../lib/duration.js';
import { runSearchAttributes } from '../lib/runSearchAttributes.js';
import {
  acceptDeploySignal, clearStopUpdate, DEPLOY_LOCKED, enqueueDeployUpdate, enqueueOperationUpdate, lockDeploysUpdate, queueStatusQuery, recordStopUpdate,
  unlockDeploysUpdate, type DeployLock, type DeployRequest, type EnqueueResult, type LockRequest, type QueuedDeploy, type QueuedOperation,
  type QueueStatus, type RefusedDeploy, type StoppedFleet,
} from '../lib/messages.js';
import { deliveryKeyOf, deployRunId } from '../lib/deployRunId.js';
import { deployPipeline } from './deployPipeline.js';
import { watchForNewerCode } from './entityUpgrade.js';

export interface DeployQueueState {
  waiting?: QueuedDeploy;
  /** delivery key → pipeline workflow id, newest last; bounded. */
  seen: Array<[string, string]>;
  superseded: string[];
  /** Accepted (signalled) deploys a lock refused; absent in state carried from older queues. */
  refused?: RefusedDeploy[];
  /** Carried through continueAsNew: a lock lasts until someone unlocks (or it expires). */
  lock?: DeployLock;
  /** Operations waiting (incident runbook, scaling); absent in state carried from older queues. */
  operations?: QueuedOperation[];
  /** The app stopped by `flightdeck stop`, until `flightdeck start`. */
  stopped?: StoppedFleet;
}

const MAX_REMEMBERED_DELIVERIES = 500;
const IDLE_EXIT_MS = 60 * 60_000;
const ANSWER_WITHIN = '3s';
/** Bump the number when a change to the queue should reach running queues (docs/operations.md). */
export const QUEUE_CODE_ID = 'deploy-queue-code-v2';

/** Waiting on a pipeline this queue did not start: as long as a deploy can take (approval included). */
const runWatch = proxyActivities<Activities>({ startToCloseTimeout: '3h', heartbeatTimeout: '1m', retry: { maximumAttempts: 10 } });

export async function deployQueue(state: DeployQueueState = { seen: [], superseded: [] }): Promise<void> {
  const isOnNewerCode = watchForNewerCode(QUEUE_CODE_ID);
  // Patch queue-one-at-a-time: a pipeline left running by an earlier queue is waited for, and
  // cancelling the queue never cancels a deploy in progress.
  const isOneAtATime = patched('queue-one-at-a-time');
  // Patch queue-runs-operations: the queue also runs incident runbooks and scale operations as children.
  const runsOperations = patched('queue-runs-operations');
  const seen = new Map(state.seen);
  let waiting = state.waiting;
  let running: QueuedDeploy | undefined;
  let runningOperation: QueuedOperation | undefined;
  const operations = [...(state.operations ?? [])];
  let stopped = state.stopped;
  let lock = state.lock;
  const superseded = state.superseded.slice(-50);
  const refused = (state.refused ?? []).slice(-50);
  const isLocked = (): boolean => lock !== undefined && !hasExpired(lock);

  setHandler(queueStatusQuery, (): QueueStatus => ({
    running, waiting, superseded, refused, lock: isLocked() ? lock : undefined,
    ...(runsOperations ? { runningOperation, operations, stopped } : {}),
  }));

  setHandler(lockDeploysUpdate, (request) => {
    if (isLocked()) return { lock: lock!, wasAlreadyLocked: true };
    lock = newLock(request);
    return { lock, wasAlreadyLocked: false };
  }, { validator: validateLockRequest });

  setHandler(unlockDeploysUpdate, () => {
    const removed = isLocked() ? lock : undefined;
    lock = undefined;
    return { removed, waitingWorkflowId: waiting?.workflowId };
  });

  const recentlyStarted: string[] = [];
  /** Pipelines a re-delivery named that exist already (started by an earlier queue). */
  const alreadyRun: string[] = [];

  if (runsOperations) {
    setHandler(enqueueOperationUpdate, async (operation): Promise<EnqueueResult> => {
      if (runningOperation?.workflowId === operation.workflowId || operations.some((o) => o.workflowId === operation.workflowId)) {
        return { workflowId: operation.workflowId, disposition: 'duplicate' };
      }
      operations.push(operation);
      // Answer once it has started, or after a moment when a deploy or another operation runs first.
      await condition(() => recentlyStarted.includes(operation.workflowId) || alreadyRun.includes(operation.workflowId), ANSWER_WITHIN);
      if (alreadyRun.includes(operation.workflowId)) return { workflowId: operation.workflowId, disposition: 'duplicate' };
      return { workflowId: operation.workflowId, disposition: recentlyStarted.includes(operation.workflowId) ? 'started' : 'queued' };
    });
    setHandler(recordStopUpdate, (record) => {
      stopped ??= record;
      if (!isLocked()) {
        lock = newLock({ owner: record.by, reason: `stopped (${record.reason.slice(0, 300)}); flightdeck start brings it back`, workflowId: record.workflowId });
      }
      return stopped;
    });
    setHandler(clearStopUpdate, () => {
      const removed = stopped;
      if (removed && lock?.workflowId === removed.workflowId) lock = undefined;
      stopped = undefined;
      return { removed };
    });
  }


  /** The newest request waits (replacing an older waiting one); returns the one it replaced. */
  function enqueue(deploy: QueuedDeploy): string | undefined {
    const deliveryKey = deliveryKeyOf(deploy.request);
    if (deliveryKey) remember(seen, deliveryKey, deploy.workflowId);
    const replaced = waiting?.workflowId;
    if (replaced) superseded.push(replaced);
    waiting = deploy;
    return replaced;
  }

  setHandler(enqueueDeployUpdate, async (request): Promise<EnqueueResult> => {
    const deliveryKey = deliveryKeyOf(request);
    const known = deliveryKey ? seen.get(deliveryKey) : undefined;
    if (known) return { workflowId: known, disposition: 'duplicate' };
    // Derived from the delivery, so a re-delivery that arrives after this queue has ended (its memory
    // with it) still names the same pipeline, and starting that pipeline again is refused below.
    const workflowId = deployRunId(request, uuid4);
    const replaced = enqueue({ workflowId, request });
    if (running) return { workflowId, disposition: 'queued', supersededWorkflowId: replaced };
    // Answer once the pipeline exists, so the caller can follow it at once; but a webhook sender
    // (GitHub gives up after 10 s) does not wait on a busy worker: after a while the answer is
    // "queued", and the id's status comes from this queue until the pipeline starts.
    const isSettled = () => recentlyStarted.includes(workflowId) || alreadyRun.includes(workflowId) || superseded.includes(workflowId) || isLocked();
    await condition(isSettled, ANSWER_WITHIN);
    if (alreadyRun.includes(workflowId)) return { workflowId, disposition: 'duplicate' };
    return { workflowId, disposition: recentlyStarted.includes(workflowId) ? 'started' : 'queued', supersededWorkflowId: replaced };
  }, {
    validator: (request) => {
      // A re-delivery of a request accepted before the lock still gets its run back.
      const deliveryKey = deliveryKeyOf(request);
      if (deliveryKey && seen.has(deliveryKey)) return;
      if (isLocked()) throw lockedFailure(request, lock!);
    },
  });

  // The API named the run already (from the delivery, as the update above would); a re-delivery is
  // dropped here, and one that comes after this queue has ended is refused when its pipeline starts.
  setHandler(acceptDeploySignal, (deploy) => {
    const deliveryKey = deliveryKeyOf(deploy.request);
    if (deliveryKey && seen.has(deliveryKey)) return;
    if (isLocked()) {
      if (!refused.some((r) => r.workflowId === deploy.workflowId)) refused.push({ ...deploy, lock: lock! });
      if (refused.length > 50) refused.shift();
      return;
    }
    enqueue(deploy);
  });

  /** At a safe point (no deploy running): continue as new when the history is long, or onto newer code. */
  async function continueAsNewAtSafePoint(): Promise<void> {
    if (!workflowInfo().continueAsNewSuggested && !isOnNewerCode()) return;
    await condition(allHandlersFinished);
    await continueAsNew<typeof deployQueue>({ waiting, seen: [...seen], superseded, refused, lock, ...(runsOperations ? { operations, stopped } : {}) });
  }

  /** An operation runs before a waiting deploy: it is about the app as it runs now. */
  async function runOperation(operation: QueuedOperation): Promise<void> {
    runningOperation = operation;
    try {
      const child = await startChild(operation.workflowType, {
        workflowId: operation.workflowId,
        typedSearchAttributes: runSearchAttributes({
          kind: operation.workflowType === 'scaleApp' ? 'scale' : 'incident', app: operation.request.app, environment: operation.request.environment,
        }),
        args: [operation.request],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        cancellationType: ChildWorkflowCancellationType.ABANDON,
      });
      keepNewest(recentlyStarted, operation.workflowId);
      await child.result();
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        keepNewest(alreadyRun, operation.workflowId);
        // The same operation started elsewhere (an earlier queue): wait for it, never run beside it.
        await runWatch.awaitRunClosed({ workflowId: operation.workflowId }).catch(() => undefined);
      }
      // Otherwise the operation reports its own failure.
    }
    runningOperation = undefined;
  }

  const hasOperation = () => runsOperations && operations.length > 0;

  for (;;) {
    const hasWork = await condition(() => hasOperation() || (waiting !== undefined && !isLocked()), msUntilNextCheck(lock));
    if (!hasWork) {
      if (lock && hasExpired(lock)) lock = undefined;
      // A locked or stopped queue stays open: the lock and the stopped counts live in this workflow, and a deploy may be held.
      if (isLocked() || waiting !== undefined || stopped !== undefined) {
        await continueAsNewAtSafePoint();
        continue;
      }
      // Idle: finish, and let the next request start a fresh queue (update-with-start).
      await condition(allHandlersFinished);
      if (waiting === undefined && !isLocked() && !hasOperation() && stopped === undefined) return;
      continue;
    }
    if (hasOperation()) {
      await runOperation(operations.shift()!);
      await continueAsNewAtSafePoint();
      continue;
    }
    running = waiting!;
    waiting = undefined;
    try {
      const pipeline = await startChild(deployPipeline, {
        workflowId: running.workflowId,
        typedSearchAttributes: runSearchAttributes({ kind: 'deploy', app: running.request.app, environment: running.request.environment }),
        args: [running.request],
        // The queue may end or be reset; a deploy that has started must finish either way.
        parentClosePolicy: ParentClosePolicy.ABANDON,
        // Cancelling or resetting the queue must not cancel a deploy halfway (it has its own cancel).
        cancellationType: isOneAtATime ? ChildWorkflowCancellationType.ABANDON : undefined,
        // A delivery's pipeline runs once, however often the webhook comes (within the namespace's retention).
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
      keepNewest(recentlyStarted, running.workflowId);
      await pipeline.result();
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        keepNewest(alreadyRun, running.workflowId);
        // Started by an earlier queue (terminated, reset, or ended idle) and maybe still deploying:
        // the next deploy waits for it, so two never overlap.
        if (isOneAtATime) await runWatch.awaitRunClosed({ workflowId: running.workflowId }).catch(() => undefined);
      }
      // Otherwise the pipeline reports its own failure; the queue only moves on.
    }
    running = undefined;
    await continueAsNewAtSafePoint();
  }
}

function newLock(request: LockRequest): DeployLock {
  const now = Date.now();
  return {
    owner: request.owner,
    reason: request.reason,
    since: new Date(now).toISOString(),
    expiresAt: request.expiresIn ? new Date(now + durationToMs(request.expiresIn)).toISOString() : undefined,
    workflowId: request.workflowId,
  };
}

function validateLockRequest(request: LockRequest): void {
  if (!request.owner?.trim()) throw new Error('a lock needs an owner (who is locking)');
  if (!request.reason?.trim()) throw new Error('a lock needs a reason, e.g. "release freeze until Monday"');
}

function hasExpired(lock: DeployLock): boolean {
  return lock.expiresAt !== undefined && Date.parse(lock.expiresAt) <= Date.now();
}

/** Wake at the lock's expiry (to start a held deploy) or after an idle hour, whichever is first. */
function msUntilNextCheck(lock: DeployLock | undefined): number {
  if (!lock?.expiresAt) return IDLE_EXIT_MS;
  return Math.max(1, Math.min(IDLE_EXIT_MS, Date.parse(lock.expiresAt) - Date.now()));
}

function lockedFailure(request: DeployRequest, lock: DeployLock): ApplicationFailure {
  return ApplicationFailure.create({
    type: DEPLOY_LOCKED,
    message: `deploys of ${request.app} to ${request.environment} are locked by ${lock.owner}: ${lock.reason}`,
    details: [lock],
    nonRetryable: true,
  });
}

function remember(seen: Map<string, string>, key: string, workflowId: string): void {
  seen.set(key, workflowId);
  while (seen.size > MAX_REMEMBERED_DELIVERIES) seen.delete(seen.keys().next().value!);
}

/** Keeps the newest ids a request may still be waiting to hear about (an update waits a few seconds at most). */
function keepNewest(ids: string[], workflowId: string): void {
  ids.push(workflowId);
  if (ids.length > 20) ids.shift();
}
