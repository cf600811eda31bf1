// Renders a run's status as one Slack message: outcome on top, a stage checklist, who and what,
// a link to the run, and buttons while a person's decision is awaited. Pure: no I/O.
import type { KnownBlock } from '@slack/web-api';
import type { RunStatus, StageStatus } from './messages.js';
import { escapeSlack, slackLink } from './slackText.js';
import { formatDuration } from './units.js';

const STAGE_ICON: Record<StageStatus['state'], string> = {
  pending: '◻️', running: '⏳', succeeded: '✅', failed: '❌', skipped: '➖',
};

const HEADLINE: Record<RunStatus['state'], string> = {
  queued: 'queued', running: 'in progress', 'waiting-for-approval': 'waiting for approval', 'waiting-for-decision': 'failed: roll back or keep?',
  succeeded: 'succeeded', failed: 'FAILED', 'rolled-back': 'ROLLED BACK', cancelled: 'cancelled', superseded: 'superseded by a newer request', refused: 'refused (deploys are locked)',
};

export const SLACK_ACTIONS = {
  approve: 'flightdeck_approve', reject: 'flightdeck_reject', rollback: 'flightdeck_rollback', keep: 'flightdeck_keep', restore: 'flightdeck_restore_backup',
} as const;


export function runSubject(status: RunStatus): string {
  const target = [status.app ?? status.database, status.environment].filter(Boolean).join(' / ');
  return `${status.kind} ${target}`.trim();
}

/**
 * The run as Slack mrkdwn. Outcomes, facts and stage details carry test output, flyctl stderr,
 * reasons and lock notes: every value is escaped, so none of it can ping or link.
 */
export function renderRunText(status: RunStatus): string {
  const lines = [`*${escapeSlack(runSubject(status))}: ${HEADLINE[status.state]}*`];
  if (status.outcome) lines.push(escapeSlack(status.outcome));
  const facts = Object.entries(status.facts).filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => `${escapeSlack(k)}: ${escapeSlack(v)}`);
  if (facts.length) lines.push(facts.join(' · '));
  lines.push(`by ${escapeSlack(status.trigger.actor)} via ${escapeSlack(status.trigger.source)}`);
  for (const stage of status.stages) {
    const extra = [stage.durationMs === undefined ? '' : formatDuration(stage.durationMs), stage.detail].filter(Boolean).join(', ');
    lines.push(`${STAGE_ICON[stage.state]} ${escapeSlack(stage.name)}${extra ? ` (${escapeSlack(extra)})` : ''}`);
  }
  return lines.join('\n');
}

export function renderRunBlocks(status: RunStatus, runUrl?: string): KnownBlock[] {
  const blocks: KnownBlock[] = [{ type: 'section', text: { type: 'mrkdwn', text: renderRunText(status) } }];
  if (runUrl) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `${slackLink(runUrl, 'Open in Temporal').mrkdwn} · ${escapeSlack(status.workflowId)}` }] });
  const button = (text: string, actionId: string, style?: 'primary' | 'danger') =>
    ({ type: 'button' as const, text: { type: 'plain_text' as const, text }, action_id: actionId, value: status.workflowId, ...(style ? { style } : {}) });
  if (status.state === 'waiting-for-approval') {
    blocks.push({ type: 'actions', elements: [button('Approve', SLACK_ACTIONS.approve, 'primary'), button('Reject', SLACK_ACTIONS.reject, 'danger')] });
  }
  if (status.state === 'waiting-for-decision') {
    const elements = [button('Roll back', SLACK_ACTIONS.rollback, 'danger'), button('Keep', SLACK_ACTIONS.keep)];
    if (status.decisionOptions?.includes('restore')) elements.push(button('Roll back + restore backup', SLACK_ACTIONS.restore, 'danger'));
    blocks.push({ type: 'actions', elements });
  }
  return blocks;
}
