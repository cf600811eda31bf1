// How the sandbox shows Slack traffic in the terminal: a new message in full, an update as its
// headline plus the lines that changed (a pipeline updates its one message at every stage), and the
// answers to slash commands.
import type { SlackStandInEvent } from './slackStandIn.js';

/** Slack mrkdwn to plain terminal text: *bold*, <url|label> links. */
function plain(text: string): string {
  return text
    .replace(/<([^|>]+)\|([^>]+)>/g, '$2 ($1)')
    .replace(/(^|\s)\*([^*\n]+)\*/g, '$1$2');
}

function indent(lines: string[], prefix: string): string {
  return lines.map((line) => `${prefix}${line}`).join('\n');
}

export function formatSlackEvent(event: SlackStandInEvent): string {
  if (event.kind === 'responded') {
    const audience = event.isInChannel ? 'to the channel' : 'only to you';
    return `slack answer (${audience}):\n${indent(plain(event.text).split('\n'), '  │ ')}`;
  }
  const { message } = event;
  const lines = plain(message.text).split('\n');
  const where = `slack ${message.channel}`;
  if (event.kind === 'posted' && message.threadTs) return `${where} ↳ thread reply:\n${indent(lines, '    ')}`;
  if (event.kind === 'posted') return `${where} new message:\n${indent(lines, '  │ ')}`;
  const before = new Set(plain(event.previousText ?? '').split('\n'));
  const changed = lines.slice(1).filter((line) => !before.has(line));
  return `${where} updated: ${lines[0]}${changed.length ? `\n${indent(changed, '  │ ')}` : ''}`;
}
