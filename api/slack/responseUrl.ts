// Slack's response_url: where answers to a command or a button press go after the 3-second ack.
// The URL comes from the request body, so it is checked before anything is sent to it.
import type { KnownBlock } from '@slack/web-api';
import type { Logger } from '../../lib/log.js';
import { redactText, redactValue } from '../../lib/redact.js';

export interface SlackResponse {
  text: string;
  blocks?: KnownBlock[];
  /** ephemeral (default): only the person who asked sees it. */
  response_type?: 'ephemeral' | 'in_channel';
  /** Replace the message the button was on (so its buttons go away). */
  replace_original?: boolean;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Slack's own hooks host; or, when SLACK_API_URL points at a local Slack stand-in (tests, the
 * sandbox), that stand-in's origin. Anything else would let a signed request aim us at any URL.
 */
export function isAllowedResponseUrl(url: string, slackApiUrl?: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.protocol === 'https:' && parsed.host === 'hooks.slack.com') return true;
  if (!slackApiUrl) return false;
  const standIn = new URL(slackApiUrl);
  return standIn.protocol === 'http:' && LOOPBACK_HOSTS.has(standIn.hostname) && parsed.origin === standIn.origin;
}

/** Posts the answer; a failure is logged (without the URL, which works like a token), never thrown. */
export async function postSlackResponse(url: string, response: SlackResponse, logger: Logger): Promise<boolean> {
  const body = { ...response, text: redactText(response.text), ...(response.blocks ? { blocks: redactValue(response.blocks) } : {}) };
  try {
    const answer = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    if (answer.ok) return true;
    logger.warn({ status: answer.status }, 'Slack refused a response_url message');
  } catch (err) {
    logger.warn({ err: (err as Error).message }, 'could not post to Slack response_url');
  }
  return false;
}
