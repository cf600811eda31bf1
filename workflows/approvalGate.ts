// A run that waits for a person's approval (a production deploy, overwriting a live database,
// stopping production) or decision (roll back or keep): one update handler each, which refuses
// anyone who is not an approver, a choice not offered, and any run not waiting.
import { ApplicationFailure, condition, setHandler } from '@temporalio/workflow';
import { approvalUpdate, failureDecisionUpdate, type ApprovalDecision, type FailureDecision, type Trigger } from '../lib/messages.js';
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

export interface ApprovalPolicy {
  approvers: string[];
  timeout: string;
  isSelfApprovalAllowed?: boolean;
}

/**
 * Waits for an approver; returns who approved. No decision within the timeout, or a rejection, fails
 * the run saying that nothing changed. `reason`: why this run needs a person, shown as its outcome.
 */
export async function awaitApproval(run: RunTracker, gate: ApprovalGate, policy: ApprovalPolicy,
  refusal: { nothingChanged: string; rejectedType: string }, reason?: string): Promise<string> {
  gate.approvers = policy.approvers;
  gate.isSelfApprovalAllowed = policy.isSelfApprovalAllowed;
  run.setState('waiting-for-approval', reason);
  const isDecided = await condition(() => gate.decision !== undefined, policy.timeout);
  if (!isDecided) {
    run.setState('failed', `Nobody approved within ${policy.timeout}; the ${run.status.kind} was abandoned and nothing changed.`);
    throw ApplicationFailure.nonRetryable(run.status.outcome!, 'ApprovalTimedOut');
  }
  const decision = gate.decision!;
  run.fact(decision.isApproved ? 'approved by' : 'rejected by', decision.actor);
  if (!decision.isApproved) {
    run.setState('failed', `Rejected by ${decision.actor}${decision.comment ? `: ${decision.comment}` : ''}; ${refusal.nothingChanged}.`);
    throw ApplicationFailure.nonRetryable(run.status.outcome!, refusal.rejectedType);
  }
  run.setState('running', reason === undefined ? undefined : '');
  return decision.actor;
}

/** The first decision on a run that waits for one (roll back, keep, ...); later ones change nothing. */
export interface DecisionGate { decision?: FailureDecision }

export function acceptFailureDecisions(run: RunTracker): DecisionGate {
  const gate: DecisionGate = {};
  setHandler(failureDecisionUpdate, (decision) => {
    gate.decision ??= decision;
    return { state: run.status.state };
  }, {
    validator: (decision: FailureDecision) => {
      if (run.status.state !== 'waiting-for-decision') throw new Error(`this ${run.status.kind} is not waiting for a decision (it is ${run.status.state})`);
      const options = run.status.decisionOptions ?? ['rollback', 'keep'];
      if (!options.includes(decision.decision)) throw new Error(`"${decision.decision}" is not one of this ${run.status.kind}'s choices: ${options.join(', ')}`);
    },
  });
  return gate;
}
