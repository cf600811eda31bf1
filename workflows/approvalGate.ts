// A run that waits for a person's approval (a production deploy, overwriting a live database):
// one update handler, which refuses anyone who is not an approver and any run not waiting.
import { setHandler } from '@temporalio/workflow';
import { approvalUpdate, type ApprovalDecision, type Trigger } from '../lib/messages.js';
import type { RunTracker } from './runTracker.js';

export interface ApprovalGate {
  /** Set when the run starts waiting; nobody is an approver before. */
  approvers: string[];
  /** Four-eyes is on unless the environment allows its requesters to approve (approval.selfApproval). */
  isSelfApprovalAllowed?: boolean;
  /** The first decision; later ones change nothing. */
  decision?: ApprovalDecision;
}

export function acceptApprovals(run: RunTracker, describeNonApprover: (actor: string) => string): ApprovalGate {
  const gate: ApprovalGate = { approvers: [] };
  setHandler(approvalUpdate, (decision) => {
    gate.decision ??= decision;
    return { state: run.status.state };
  }, {
    validator: (decision) => {
      if (run.status.state !== 'waiting-for-approval') throw new Error(`this ${run.status.kind} is not waiting for approval (it is ${run.status.state})`);
      if (!gate.approvers.includes(decision.actor)) throw new Error(describeNonApprover(decision.actor));
      if (decision.isApproved && !gate.isSelfApprovalAllowed && decision.actor === requesterOf(run.status.trigger)) {
        throw new Error(`${decision.actor} requested this ${run.status.kind} and cannot approve it too: another approver must (four-eyes)`);
      }
    },
  });
  return gate;
}

/** The authenticated identity that started the run (a Slack run from before identities: its verified actor). */
export function requesterOf(trigger: Trigger): string | undefined {
  return trigger.identity ?? (trigger.source === 'slack' ? trigger.actor : undefined);
}
