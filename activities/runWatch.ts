// Waits for a run this workflow did not start (so cannot await as a child) to close: the deploy
// queue waits for a pipeline an earlier queue left running before it starts the next deploy.
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { PermanentError, permanentFailure } from '../lib/errors.js';

const POLL_INTERVAL_MS = 2000;

export function createRunWatchActivities(deps: { temporalClient?: Client }) {
  return {
    async awaitRunClosed(input: { workflowId: string }): Promise<string> {
      if (!deps.temporalClient) throw permanentFailure(PermanentError.ConfigInvalid, 'this worker was started without a Temporal client, so it cannot watch other runs');
      const handle = deps.temporalClient.workflow.getHandle(input.workflowId);
      const context = Context.current();
      for (;;) {
        let status: string;
        try {
          status = (await handle.describe()).status.name;
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) return 'NOT_FOUND';
          throw err;
        }
        if (status !== 'RUNNING') return status;
        context.heartbeat(status);
        await context.sleep(POLL_INTERVAL_MS);
      }
    },
  };
}
