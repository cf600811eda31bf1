// A person's answers to a waiting run: approve or reject a deploy or restore, or, after a failed
// deploy paused by onFailure: pause, roll back or keep the new release.
import { decideApproval, decideOnFailure } from '../../lib/operations.js';
import type { Command, OptionValues } from '../command.js';
import { ExitCode, UsageError } from '../usageError.js';
import { expectArguments, runId, text } from '../validation.js';

function approvalCommand(isApproved: boolean): Command {
  const name = isApproved ? 'approve' : 'reject';
  return {
    name,
    summary: isApproved ? 'approve a deploy or restore waiting for approval' : 'reject a deploy or restore waiting for approval; nothing is changed',
    usage: `flightdeck ${name} <run-id> [--comment TEXT] [--json]`,
    details: `${isApproved ? 'Approves' : 'Rejects'} <run-id>, which must be waiting for approval. The decision is recorded as
your OS user with the CLI's operator marker, cli:<user> (--actor is refused here: it is a label, not an
identity). The run accepts it only when the environment's approvers (or the database's restorers) list
cli:<user>, and never from whoever requested the run (four-eyes).

  flightdeck ${name} deploy/shop/production/3f2c1a9-1a2b3c4d${isApproved ? '' : ' --comment "not during the sale"'}`,
    options: { comment: { type: 'string' } },
    prepare({ positionals, options, identity }) {
      refuseActorOption(options, name);
      const [workflowId] = expectArguments(positionals, name, 1, 1).map(runId);
      const comment = text(options.comment);
      const actor = identity;
      return async ({ client, out }) => {
        await decideApproval(client, workflowId!, { isApproved, actor, ...(comment ? { comment } : {}) });
        out.line(`${isApproved ? 'approved' : 'rejected'} ${workflowId} as ${actor}`);
        out.result({ workflowId, decision: name, actor });
        return ExitCode.ok;
      };
    },
  };
}

export const approveCommand = approvalCommand(true);
export const rejectCommand = approvalCommand(false);

export const decideCommand: Command = {
  name: 'decide',
  summary: 'after a failed deploy paused for a decision: roll back, keep the new release, or roll back and restore the pre-migration backup',
  usage: 'flightdeck decide <run-id> rollback|keep|restore [--json]',
  details: `Also answers an incident runbook (flightdeck restart) whose restarts did not heal, with incident.ifStillFailing: pause.
For environments configured with onFailure: pause, and after any deploy that applied a rollback-incompatible
migration, a failed deploy waits for a person. "rollback" puts the last known good release back; "keep" leaves the new
release serving; "restore" (offered after such a migration, when a backup was taken first) rolls back and starts the
restore of the backup taken before the migrations, which the database's restorers approve.

  flightdeck decide deploy/shop/production/3f2c1a9-1a2b3c4d rollback`,
  prepare({ positionals, options, identity }) {
    refuseActorOption(options, 'decide');
    const actor = identity;
    const [id, decision] = expectArguments(positionals, 'decide', 2, 2);
    const workflowId = runId(id!);
    if (decision !== 'rollback' && decision !== 'keep' && decision !== 'restore') throw new UsageError(`decide: expected rollback, keep or restore, got "${decision}"`, 'decide');
    return async ({ client, out }) => {
      await decideOnFailure(client, workflowId, { decision, actor });
      out.line(`${DECIDED[decision]} ${workflowId}, decided by ${actor}`);
      out.result({ workflowId, decision, actor });
      return ExitCode.ok;
    };
  },
};

/** A decision carries who decided: from the CLI that is the OS user, never a name typed on the command line. */
function refuseActorOption(options: OptionValues, command: string): void {
  if (options.actor !== undefined) {
    throw new UsageError(`${command}: --actor is not accepted for decisions; they are recorded as your OS user (cli:<user>), which approvers lists must name`, command);
  }
}

const DECIDED = { rollback: 'rolling back', keep: 'keeping', restore: 'rolling back and restoring the pre-migration backup of' } as const;
