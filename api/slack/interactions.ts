// Button presses on a run's message (Approve, Reject, Roll back, Keep). A valid signature proves the
// press came from Slack, not that the person may decide: that is checked here (and approvers again by
// the workflow). A second press finds the run no longer waiting and changes nothing.
import { z } from 'zod';
import type { KnownBlock } from '@slack/web-api';
import { auditLog } from '../../lib/audit.js';
import { authorizeChannel, authorizeRunAction, type AppAction } from '../../lib/authorization.js';
import { decideApproval, decideOnFailure } from '../../lib/operations.js';
import { renderRunBlocks, renderRunText, SLACK_ACTIONS } from '../../lib/runReport.js';
import type { ApiDeps } from '../deps.js';
import { lookUpRun } from './commands.js';
import { slack } from '../../lib/slackText.js';
import { mention, refusal } from './replies.js';
import type { SlackResponse } from './responseUrl.js';

export const blockActionsPayload = z.object({
  type: z.literal('block_actions'),
  user: z.object({ id: z.string().min(1) }),
  channel: z.object({ id: z.string().min(1) }).optional(),
  team: z.object({ id: z.string() }).nullish(),
  api_app_id: z.string().optional(),
  response_url: z.string().min(1),
  actions: z.array(z.object({ action_id: z.string(), value: z.string().max(400).optional() })).min(1),
});
export type BlockActionsPayload = z.infer<typeof blockActionsPayload>;

/** Only the presser sees it, and the message with the buttons stays as it is. */
function refuse(reason: string): SlackResponse {
  return { ...refusal(reason), replace_original: false };
}

interface ButtonMeaning {
  /** The audit log's verb. */
  action: string;
  permission: AppAction;
  /** Past tense for the replaced message. */
  done: string;
  decide: (deps: ApiDeps, workflowId: string, actor: string) => Promise<void>;
}

const BUTTONS: Record<string, ButtonMeaning> = {
  [SLACK_ACTIONS.approve]: { action: 'approve', permission: 'approve', done: 'Approved', decide: (d, id, actor) => decideApproval(d.client, id, { isApproved: true, actor }) },
  [SLACK_ACTIONS.reject]: { action: 'reject', permission: 'approve', done: 'Rejected', decide: (d, id, actor) => decideApproval(d.client, id, { isApproved: false, actor }) },
  [SLACK_ACTIONS.rollback]: { action: 'rollback', permission: 'rollback', done: 'Rollback chosen', decide: (d, id, actor) => decideOnFailure(d.client, id, { decision: 'rollback', actor }) },
  [SLACK_ACTIONS.keep]: { action: 'keep', permission: 'rollback', done: 'Kept', decide: (d, id, actor) => decideOnFailure(d.client, id, { decision: 'keep', actor }) },
  // The restore it starts asks the database's own restorers to approve overwriting it.
  [SLACK_ACTIONS.restore]: {
    action: 'restore', permission: 'rollback', done: 'Roll back and restore chosen', decide: (d, id, actor) => decideOnFailure(d.client, id, { decision: 'restore', actor }),
  },
};

/** Decides on the run the button belongs to; the answer replaces the message, or (refused) goes only to the presser. */
export async function handleBlockAction(deps: ApiDeps, payload: BlockActionsPayload): Promise<SlackResponse | undefined> {
  const pressed = payload.actions[0]!;
  const meaning = BUTTONS[pressed.action_id];
  if (!meaning || !pressed.value) return undefined;
  const workflowId = pressed.value;
  const actor = payload.user.id;
  const audit = (outcome: 'allowed' | 'refused' | 'failed', detail?: string) =>
    auditLog(deps.logger, { actor, action: meaning.action, target: workflowId, outcome, source: 'slack', detail });

  const config = deps.loadApps();
  const channelDecision = authorizeChannel(config, payload.channel?.id);
  if (!channelDecision.isAllowed) {
    audit('refused', channelDecision.reason);
    return refuse(channelDecision.reason);
  }
  let run;
  try {
    run = await lookUpRun(deps, workflowId);
  } catch (err) {
    audit('failed', (err as Error).message);
    return refuse((err as Error).message);
  }
  const decision = authorizeRunAction(config, actor, meaning.permission, run);
  if (!decision.isAllowed) {
    audit('refused', decision.reason);
    return refuse(decision.reason);
  }
  try {
    await meaning.decide(deps, workflowId, actor);
  } catch (err) {
    // Typically a second press: "this deploy is not waiting for approval (it is running)".
    audit('refused', (err as Error).message);
    return refuse(`Nothing changed: ${(err as Error).message}.`);
  }
  audit('allowed');
  const after = await lookUpRun(deps, workflowId).catch(() => run);
  const decided: KnownBlock = { type: 'context', elements: [{ type: 'mrkdwn', text: slack`${meaning.done} by ${mention(actor)}`.mrkdwn }] };
  // Rendered from the run's state after the decision: no longer waiting, so no buttons.
  return { replace_original: true, text: renderRunText(after), blocks: [...renderRunBlocks(after), decided] };
}
