// How Flightdeck's answers read in Slack: people as mentions, locks, queues and run lists.
import type { RunSummary } from '../../lib/runHistory.js';
import type { DeployLock, QueueStatus, RunStatus } from '../../lib/messages.js';
import { renderRunText } from '../../lib/runReport.js';
import type { SlackResponse } from './responseUrl.js';

/** Slack user ids render as mentions; other actors (ci-bot, a CLI user) as they are. */
export function mention(actor: string): string {
  return /^[UW][A-Z0-9]{2,}$/.test(actor) ? `<@${actor}>` : actor;
}

export function ephemeral(text: string): SlackResponse {
  return { response_type: 'ephemeral', text };
}

/** What everyone in the channel should see: who started or changed what. */
export function inChannel(text: string): SlackResponse {
  return { response_type: 'in_channel', text };
}

export function refusal(reason: string): SlackResponse {
  return ephemeral(`:no_entry: ${reason}`);
}

/** "until 2026-11-22T16:00:00.000Z: release freeze" */
export function lockTerms(lock: DeployLock): string {
  return `${lock.expiresAt ? `until ${lock.expiresAt}` : 'until someone unlocks'}: ${lock.reason}`;
}

export function describeLock(lock: DeployLock): string {
  return `:lock: locked by ${mention(lock.owner)} since ${lock.since}, ${lockTerms(lock)}`;
}

export function describeQueue(app: string, environment: string, queue: QueueStatus | undefined, current: RunStatus | undefined, latest: RunSummary | undefined): string {
  const lines = [`*${app} / ${environment}*`];
  lines.push(queue?.lock ? describeLock(queue.lock) : ':unlock: deploys are not locked');
  if (queue?.waiting) lines.push(`waiting: \`${queue.waiting.workflowId}\`${queue.lock ? ' (held until unlocked)' : ''}`);
  if (current) lines.push(renderRunText(current), `run: \`${current.workflowId}\``);
  else if (latest) lines.push(`nothing running; latest run: \`${latest.workflowId}\` ${latest.status.toLowerCase()} (${latest.startedAt})`);
  else lines.push('nothing running, and no runs on record');
  return lines.join('\n');
}

export function describeRuns(subject: string, runs: RunSummary[]): string {
  if (runs.length === 0) return `No runs of ${subject} on record.`;
  return [`*Latest runs of ${subject}*`, ...runs.map((r) => `• ${r.startedAt} ${r.kind} ${r.status.toLowerCase()}: \`${r.workflowId}\``)].join('\n');
}
