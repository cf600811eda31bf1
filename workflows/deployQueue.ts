// One deploy at a time per app and environment. CI can fire three pushes in a minute: the queue
// runs one pipeline, keeps only the newest waiting request (newest commit wins), and answers a
// re-delivered webhook with the run it already started.
import {
  allHandlersFinished, condition, continueAsNew, ParentClosePolicy, setHandler, startChild, uuid4, workflowInfo,
} from '@temporalio/workflow';
import { enqueueDeployUpdate, queueStatusQuery, type DeployRequest, type EnqueueResult, type QueueStatus } from '../lib/messages.js';
import { deployPipeline } from './deployPipeline.js';

interface QueuedDeploy { workflowId: string; request: DeployRequest }

export interface DeployQueueState {
  waiting?: QueuedDeploy;
  /** delivery key → pipeline workflow id, newest last; bounded. */
  seen: Array<[string, string]>;
  superseded: string[];
}

const MAX_REMEMBERED_DELIVERIES = 500;
const IDLE_EXIT = '1h';

export async function deployQueue(state: DeployQueueState = { seen: [], superseded: [] }): Promise<void> {
  const seen = new Map(state.seen);
  let waiting = state.waiting;
  let running: QueuedDeploy | undefined;
  const superseded = state.superseded.slice(-50);

  setHandler(queueStatusQuery, (): QueueStatus => ({ running, waiting, superseded }));
  const recentlyStarted: string[] = [];
  setHandler(enqueueDeployUpdate, async (request): Promise<EnqueueResult> => {
    const deliveryKey = request.trigger.deliveryId ? `${request.trigger.source}:${request.trigger.deliveryId}` : undefined;
    const known = deliveryKey ? seen.get(deliveryKey) : undefined;
    if (known) return { workflowId: known, disposition: 'duplicate' };
    const workflowId = `deploy/${request.app}/${request.environment}/${safeIdPart(request.sha ?? request.image ?? 'head')}-${uuid4().slice(0, 8)}`;
    if (deliveryKey) remember(seen, deliveryKey, workflowId);
    const replaced = waiting?.workflowId;
    if (replaced) superseded.push(replaced);
    waiting = { workflowId, request };
    if (running) return { workflowId, disposition: 'queued', supersededWorkflowId: replaced };
    // Answer once the pipeline exists, so the caller can follow the id it gets back at once.
    await condition(() => recentlyStarted.includes(workflowId) || superseded.includes(workflowId));
    return { workflowId, disposition: recentlyStarted.includes(workflowId) ? 'started' : 'queued', supersededWorkflowId: replaced };
  });

  for (;;) {
    const hasWork = await condition(() => waiting !== undefined, IDLE_EXIT);
    if (!hasWork) {
      // Idle: finish, and let the next request start a fresh queue (update-with-start).
      await condition(allHandlersFinished);
      if (waiting === undefined) return;
      continue;
    }
    running = waiting!;
    waiting = undefined;
    try {
      const pipeline = await startChild(deployPipeline, {
        workflowId: running.workflowId,
        args: [running.request],
        // The queue may end or be reset; a deploy that has started must finish either way.
        parentClosePolicy: ParentClosePolicy.ABANDON,
      });
      recentlyStarted.push(running.workflowId);
      if (recentlyStarted.length > 20) recentlyStarted.shift();
      await pipeline.result();
    } catch {
      // The pipeline reports its own failure; the queue only moves on.
    }
    running = undefined;
    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof deployQueue>({ waiting, seen: [...seen], superseded });
    }
  }
}

function remember(seen: Map<string, string>, key: string, workflowId: string): void {
  seen.set(key, workflowId);
  while (seen.size > MAX_REMEMBERED_DELIVERIES) seen.delete(seen.keys().next().value!);
}

function safeIdPart(value: string): string {
  return value.replace(/[^A-Za-z0-9._-]/g, '_').slice(-40);
}
