// The deploy queue's side of the incident runbook, scaling and the health watch, from inside runs:
// recording and clearing a stopped app's counts, asking whether a deploy runs, starting the runbook.
// The queue is another workflow, so these need a Temporal client.
import { activityInfo } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import {
  busyWith, clearStoppedFleet, recordStoppedFleet, requestIncidentRunbook, stoppedFleet, type AppAddress,
} from '../lib/appOperations.js';
import { PermanentError, permanentFailure } from '../lib/errors.js';
import type { EnqueueResult, IncidentRequest, StoppedFleet } from '../lib/messages.js';

export function createAppOperationActivities(deps: { temporalClient?: Client }) {
  function client(): Client {
    if (!deps.temporalClient) throw permanentFailure(PermanentError.ConfigInvalid, 'this worker was started without a Temporal client, so it cannot reach the deploy queue');
    return deps.temporalClient;
  }
  return {
    recordStoppedFleet: (input: AppAddress & { record: StoppedFleet }): Promise<StoppedFleet> => recordStoppedFleet(client(), input, input.record),
    readStoppedFleet: async (input: AppAddress): Promise<StoppedFleet | null> => (await stoppedFleet(client(), input)) ?? null,
    clearStoppedFleet: async (input: AppAddress & { workflowId: string }): Promise<StoppedFleet | null> => (await clearStoppedFleet(client(), input, input.workflowId)) ?? null,
    appBusyWith: async (input: AppAddress): Promise<string | null> => (await busyWith(client(), input)) ?? null,
    /** The queue runs on this worker's task queue, like the watch that asks for the runbook. */
    startIncidentRunbook: (request: IncidentRequest): Promise<EnqueueResult> => requestIncidentRunbook(client(), activityInfo().taskQueue, request),
  };
}

export type AppOperationActivities = ReturnType<typeof createAppOperationActivities>;
