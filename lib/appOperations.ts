// Operations on the running app: the incident runbook (`flightdeck restart`) and scaling (`stop`,
// `start`, `scale`). They go through the app environment's deploy queue, which runs them one at a
// time with deploys (never during one), and which holds what a stop must remember: the per-region
// counts `start` brings back. The API, the CLI, Slack, the health watch and the runs themselves use
// these functions; the rules about counts are here too.
import { randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { AppsConfig } from './config.js';
import { z } from 'zod';
import { deployQueueId, deployQueueStartOperation } from './deployQueueAddress.js';
import { deployQueueStatus } from './deployLocks.js';
import {
  clearStopUpdate, enqueueOperationUpdate, recordStopUpdate,
  type EnqueueResult, type IncidentRequest, type ScaleRequest, type StoppedFleet,
} from './messages.js';

/** One incident runbook per app and environment at a time: the watch and a person asking at once get the same run. */
export function incidentRunId(app: string, environment: string): string {
  return `incident/${app}/${environment}`;
}

export async function requestIncidentRunbook(client: Client, taskQueue: string, request: IncidentRequest): Promise<EnqueueResult> {
  return client.workflow.executeUpdateWithStart(enqueueOperationUpdate, {
    args: [{ workflowId: incidentRunId(request.app, request.environment), workflowType: 'incidentRunbook', request }],
    startWorkflowOperation: deployQueueStartOperation(taskQueue, request.app, request.environment),
  });
}

/** A Fly region code, as `fly platform regions` lists them. */
export const flyRegion = z.string().regex(/^[a-z]{3}$/, 'a Fly region code such as ams or iad');
export const machineCount = z.number().int('a whole number of machines').min(0).max(100, 'at most 100 machines');

const scaleShape = z.object({
  action: z.enum(['stop', 'start', 'scale']),
  count: machineCount.optional(),
  region: flyRegion.optional(),
}).refine((r) => r.action !== 'scale' || r.count !== undefined, { message: 'scale needs a count, e.g. 3', path: ['count'] })
  .refine((r) => r.action === 'scale' || (r.count === undefined && r.region === undefined), { message: 'stop and start take no count or region: start brings back what stop saw' });

/** Refuses (nothing starts) a request that does not say what to do. */
export function validateScaleRequest(request: ScaleRequest): void {
  const parsed = scaleShape.safeParse(request);
  if (!parsed.success) throw new Error(`Cannot ${request.action}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
}

export async function requestScale(client: Client, taskQueue: string, request: ScaleRequest): Promise<EnqueueResult> {
  validateScaleRequest(request);
  const workflowId = `scale/${request.app}/${request.environment}/${request.action}-${randomUUID().slice(0, 8)}`;
  return client.workflow.executeUpdateWithStart(enqueueOperationUpdate, {
    args: [{ workflowId, workflowType: 'scaleApp', request }],
    startWorkflowOperation: deployQueueStartOperation(taskQueue, request.app, request.environment),
  });
}

export interface AppAddress { app: string; environment: string }

/** What `flightdeck stop` stopped and `start` will bring back; undefined when the app is not stopped by Flightdeck. */
export async function stoppedFleet(client: Client, address: AppAddress): Promise<StoppedFleet | undefined> {
  return (await deployQueueStatus(client, address))?.stopped;
}

/** Called by the stop run (a child of the queue, which therefore runs). An earlier record is kept and returned. */
export async function recordStoppedFleet(client: Client, address: AppAddress, record: StoppedFleet): Promise<StoppedFleet> {
  return client.workflow.getHandle(deployQueueId(address.app, address.environment)).executeUpdate(recordStopUpdate, { args: [record] });
}

export async function clearStoppedFleet(client: Client, address: AppAddress, workflowId: string): Promise<StoppedFleet | undefined> {
  return (await client.workflow.getHandle(deployQueueId(address.app, address.environment)).executeUpdate(clearStopUpdate, { args: [{ workflowId }] })).removed;
}

/** The deploy or operation the queue runs now, if any: the health watch does not count failures then. */
export async function busyWith(client: Client, address: AppAddress): Promise<string | undefined> {
  const queue = await deployQueueStatus(client, address);
  return queue?.running?.workflowId ?? queue?.runningOperation?.workflowId;
}

/** One health watch per app and environment that has `watch:` (workflows/healthWatch.ts). */
export function healthWatchId(app: string, environment: string): string {
  return `health-watch/${app}/${environment}`;
}

/**
 * Starts the watch of every environment with `watch:` that has none running (the worker calls this
 * at start). A watch whose environment loses `watch:` ends by itself at its next probe.
 */
export async function startHealthWatches(client: Client, config: AppsConfig, taskQueue: string): Promise<string[]> {
  const started: string[] = [];
  for (const [app, appConfig] of Object.entries(config.apps)) {
    for (const [environment, env] of Object.entries(appConfig.environments)) {
      if (!env.watch) continue;
      const workflowId = healthWatchId(app, environment);
      try {
        await client.workflow.start('healthWatch', {
          workflowId, taskQueue, args: [{ app, environment, consecutiveFailures: 0 }], workflowIdConflictPolicy: 'FAIL',
        });
        started.push(workflowId);
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      }
    }
  }
  return started;
}
