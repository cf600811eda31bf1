// How Flightdeck's answers read in Slack: people as mentions, locks, queues and run lists.
import { describeLedgerEntry, type LedgerEntry } from '../../lib/releaseLedger.js';
import type { RunSummary } from '../../lib/runHistory.js';
import type { DeployLock, QueueStatus, RunStatus } from '../../lib/messages.js';
import { renderRunText } from '../../lib/runReport.js';
import { joinSlack, slack, slackMention, SlackText } from '../../lib/slackText.js';
import type { SlackResponse } from './responseUrl.js';

/** Slack user ids render as mentions; other actors (ci-bot, a CLI user) as escaped text. */
export function mention(actor: string): SlackText {
  return slackMention(actor);
}

/** Every answer is SlackText: built with the `slack` tag, so each value in it is escaped. */
export function ephemeral(text: SlackText): SlackResponse {
  return { response_type: 'ephemeral', text: text.mrkdwn };
}

/** What everyone in the channel should see: who started or changed what. */
export function inChannel(text: SlackText): SlackResponse {
  return { response_type: 'in_channel', text: text.mrkdwn };
}

export function refusal(reason: string): SlackResponse {
  return ephemeral(slack`:no_entry: ${reason}`);
}

/** "until 2026-11-22T16:00:00.000Z: release freeze" */
export function lockTerms(lock: DeployLock): SlackText {
  return slack`${lock.expiresAt ? `until ${lock.expiresAt}` : 'until someone unlocks'}: ${lock.reason}`;
}

export function describeLock(lock: DeployLock): SlackText {
  return slack`:lock: locked by ${mention(lock.owner)} since ${lock.since}, ${lockTerms(lock)}`;
}

export function describeQueue(app: string, environment: string, queue: QueueStatus | undefined, current: RunStatus | undefined, latest: RunSummary | undefined): SlackText {
  const lines = [slack`*${app} / ${environment}*`];
  lines.push(queue?.lock ? describeLock(queue.lock) : slack`:unlock: deploys are not locked`);
  if (queue?.waiting) lines.push(slack`waiting: \`${queue.waiting.workflowId}\`${queue.lock ? ' (held until unlocked)' : ''}`);
  if (current) lines.push(new SlackText(renderRunText(current)), slack`run: \`${current.workflowId}\``);
  else if (latest) lines.push(slack`nothing running; latest run: \`${latest.workflowId}\` ${latest.status.toLowerCase()} (${latest.startedAt})`);
  else lines.push(slack`nothing running, and no runs on record`);
  return joinSlack(lines, '\n');
}

export function describeRuns(subject: string, runs: RunSummary[]): SlackText {
  if (runs.length === 0) return slack`No runs of ${subject} on record.`;
  return joinSlack([slack`*Latest runs of ${subject}*`, ...runs.map((r) => slack`• ${r.startedAt} ${r.kind} ${r.verdict ?? r.status.toLowerCase()}: \`${r.workflowId}\``)], '\n');
}

/** The release ledger, newest first; images and details are values: escaped, in code spans. */
export function describeReleases(subject: string, releases: LedgerEntry[]): SlackText {
  if (releases.length === 0) return slack`No releases of ${subject} recorded yet.`;
  return joinSlack([slack`*Releases of ${subject}* (newest first; rollbacks go to the newest verified one)`, ...releases.map((e) => {
    const release = e.releaseVersion === undefined ? '' : ` v${e.releaseVersion}`;
    const detail = describeLedgerEntry(e);
    return slack`• ${e.startedAt} ${e.kind}${release} *${e.verdict}* \`${codeSpan(e.image)}\`${detail === '-' ? '' : slack`: \`${codeSpan(detail)}\``}`;
  })], '\n');
}

/** A backtick would end the span early (the slack tag escapes the rest). */
function codeSpan(text: string): string {
  return text.replace(/`/g, "'").slice(0, 300);
}
