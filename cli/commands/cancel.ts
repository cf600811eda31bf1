import { cancelRun } from '../../lib/operations.js';
import type { Command } from '../command.js';
import { ExitCode } from '../usageError.js';
import { expectArguments, runId, text } from '../validation.js';

export const cancelCommand: Command = {
  name: 'cancel',
  summary: 'stop a running deploy; one whose rollout had started is rolled back',
  usage: 'flightdeck cancel <run-id> [--reason TEXT] [--actor NAME] [--json]',
  details: `Asks <run-id> to stop: the running step is interrupted and, if the new release was already
rolling out, the last known good release is put back. Follow it with flightdeck status <run-id>.

  flightdeck cancel deploy/shop/production/3f2c1a9-1a2b3c4d --reason "wrong branch"`,
  options: { reason: { type: 'string' } },
  prepare({ positionals, options, actor }) {
    const [workflowId] = expectArguments(positionals, 'cancel', 1, 1).map(runId);
    const reason = text(options.reason) ?? `cancelled by ${actor} from the command line`;
    return async ({ client, out }) => {
      await cancelRun(client, workflowId!, { actor, reason });
      out.line(`asked ${workflowId} to stop; follow it with: flightdeck status ${workflowId}`);
      out.result({ workflowId, isCancelRequested: true, actor, reason });
      return ExitCode.ok;
    };
  },
};
