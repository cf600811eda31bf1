// Every Slack Web API call. Slack is a reporter, never a dependency: callers treat failures as
// non-fatal, and retries are Temporal's (the client's own retries are off so a 429 surfaces at once).
import { WebClient, type KnownBlock } from '@slack/web-api';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from '../lib/log.js';
import { redactText, redactValue } from '../lib/redact.js';
import type { RunStatus } from '../lib/messages.js';
import { renderRunBlocks, renderRunText } from '../lib/runReport.js';
import { escapeSlack } from '../lib/slackText.js';

export interface SlackDeps {
  /** Absent when no bot token is configured: messages then go to the log. */
  client?: WebClient;
  logger: Logger;
}

export function createSlackClient(token: string | undefined, apiUrl?: string): WebClient | undefined {
  if (!token) return undefined;
  return new WebClient(token, { slackApiUrl: apiUrl, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true });
}

export interface RunMessage {
  /** Stable key of the run (its workflow id): a retried post finds the message it already made. */
  runKey: string;
  channel: string;
  /** The message's ts once posted; present means update in place. */
  ts?: string;
  text: string;
  blocks?: KnownBlock[];
}

export interface ThreadReply {
  channel: string;
  threadTs?: string;
  text: string;
  /** A failure announced to the channel: Flightdeck's own @here before the (escaped) text. */
  isAlert?: boolean;
}

const ALERT_PREFIX = ':rotating_light: <!here> ';

export function createSlackActivities({ client, logger }: SlackDeps) {
  // chat.postMessage is not idempotent: remember what this worker posted, so an attempt whose
  // result was lost (timeout after Slack accepted it) updates instead of posting twice.
  const postedByRunKey = new Map<string, string>();

  async function call<T>(method: string, fn: (c: WebClient) => Promise<T>): Promise<T | undefined> {
    if (!client) return undefined;
    try {
      return await fn(client);
    } catch (err) {
      throw slackFailure(method, err);
    }
  }

  async function syncRunMessage(message: RunMessage): Promise<{ ts?: string }> {
    const text = redactText(message.text);
    const blocks = message.blocks ? redactValue(message.blocks) : undefined;
    if (!client) {
      logger.info({ slack: { channel: message.channel, runKey: message.runKey } }, text);
      return {};
    }
    const ts = message.ts ?? postedByRunKey.get(message.runKey);
    if (ts) {
      await call('chat.update', (c) => c.chat.update({ channel: message.channel, ts, text, blocks }));
      return { ts };
    }
    const posted = await call('chat.postMessage', (c) => c.chat.postMessage({ channel: message.channel, text, blocks, unfurl_links: false }));
    if (posted?.ts) postedByRunKey.set(message.runKey, posted.ts);
    return { ts: posted?.ts };
  }

  return {
    syncRunMessage,

    /** Renders a run's status and posts or updates its one message. */
    async reportRunStatus(input: { status: RunStatus; channel: string; ts?: string; runUrl?: string }): Promise<{ ts?: string }> {
      return syncRunMessage({
        runKey: input.status.workflowId, channel: input.channel, ts: input.ts,
        text: renderRunText(input.status), blocks: renderRunBlocks(input.status, input.runUrl),
      });
    },

    /** A thread reply is plain text from the workflow (failure reasons, SQL, recovery steps): all of it is escaped. */
    async postThreadReply(reply: ThreadReply): Promise<void> {
      const text = `${reply.isAlert ? ALERT_PREFIX : ''}${escapeSlack(redactText(reply.text))}`;
      if (!client) {
        logger.info({ slack: { channel: reply.channel, thread: reply.threadTs } }, text);
        return;
      }
      await call('chat.postMessage', (c) => c.chat.postMessage({ channel: reply.channel, thread_ts: reply.threadTs, text, unfurl_links: false }));
    },
  };
}

export type SlackActivities = ReturnType<typeof createSlackActivities>;

/** A Slack error as a retryable failure that honours Retry-After. */
function slackFailure(method: string, err: unknown): ApplicationFailure {
  const e = err as { code?: string; retryAfter?: number; data?: { error?: string }; message?: string };
  const retryAfterSeconds = e.retryAfter;
  return ApplicationFailure.create({
    type: 'SlackUnavailable',
    message: `Slack ${method} failed: ${redactText(e.data?.error ?? e.message ?? String(err))}`,
    nonRetryable: false,
    nextRetryDelay: retryAfterSeconds ? `${retryAfterSeconds}s` : undefined,
  });
}
