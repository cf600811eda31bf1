import { cancelRun } from '../../lib/operations.js';
import type { Command } from '../command.js';
import { ExitCode } from '../usageError.js';
import { expectArguments, runId, text } from '../validation.js';

export const cancelCommand: Command = {
  name: 'cancel',
  summary: 'stop a run (deploy, rollback, backup, restore, migration) at its next safe point',
  usage: 'flightdeck cancel <run-id> [--reason TEXT] [--actor NAME] [--json]',
  details: `Cancels <run-id> through Temporal: the run closes CANCELED, and its status and Slack message
say who cancelled it and why. Each kind stops where stopping is safe: a deploy whose new release was
already rolling out puts the last known good release back; a rollback finishes a rollout it began; a
backup deletes what it stored; a restore stops before its swap (the target untouched) or finishes
the swap it began; a migration's running statement is cancelled and the database's state reported.
Follow it with flightdeck status <run-id>.

  flightdeck cancel deploy/shop/production/3f2c1a9-1a2b3c4d --reason "wrong branch"`,
  options: { reason: { type: 'string' } },
  prepare({ positionals, options, actor }) {
    const [workflowId] = expectArguments(positionals, 'cancel', 1, 1).map(runId);
    const reason = text(options.reason) ?? 'from the command line';
    return async ({ client, out }) => {
      await cancelRun(client, workflowId!, { actor, reason });
      out.line(`asked ${workflowId} to stop; follow it with: flightdeck status ${workflowId}`);
      out.result({ workflowId, isCancelRequested: true, actor, reason });
      return ExitCode.ok;
    };
  },
};
