// The API server wired to a real Temporal client, plus what Slack tests need around it: Slack-signed
// requests, the audit trail, and the answers sent to response_url.
import type { Client } from '@temporalio/client';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { ApiDeps } from '../../../api/deps.js';
import { createApiMetrics } from '../../../api/metrics.js';
import { hmacSha256Hex } from '../../../api/signatures.js';
import { buildServer } from '../../../api/server.js';
import { loadEnvConfig, type AppsConfig } from '../../../lib/config.js';
import { createLogger } from '../../../lib/log.js';
import type { FakeSlack } from '../../helpers/fakeSlack.js';
import { waitUntil } from '../../deploy/support.js';

export const SIGNING_SECRET = 'test-signing-secret-4f1d9a';

export interface AuditLine { audit: true; actor: string; action: string; target: string; outcome: string; source: string; detail?: string }

export interface SlackServer {
  app: FastifyInstance;
  deps: ApiDeps;
  auditLines(): AuditLine[];
  close(): Promise<void>;
}

export async function startSlackServer(options: {
  client: Client; taskQueue?: string; loadApps: () => AppsConfig; slackApiUrl?: string; now?: () => number; signingSecret?: string;
  /** More of the API's environment, e.g. SLACK_TEAM_ID. */
  env?: Record<string, string>;
}): Promise<SlackServer> {
  const lines: Array<Record<string, unknown>> = [];
  const env = loadEnvConfig({ SLACK_SIGNING_SECRET: options.signingSecret ?? SIGNING_SECRET, ...(options.slackApiUrl ? { SLACK_API_URL: options.slackApiUrl } : {}), ...options.env });
  const deps: ApiDeps = {
    client: options.client,
    taskQueue: options.taskQueue ?? 'unused',
    env,
    loadApps: options.loadApps,
    logger: createLogger({ level: 'info', destination: { write: (line: string) => { lines.push(JSON.parse(line)); } } }),
    metrics: createApiMetrics(),
    now: options.now ?? Date.now,
  };
  const app = await buildServer(deps);
  await app.ready();
  return {
    app,
    deps,
    auditLines: () => lines.filter((l) => l.audit === true) as unknown as AuditLine[],
    close: () => app.close(),
  };
}

/** Headers Slack would send with this body at this time (Unix seconds). */
export function slackSignature(body: string, timestamp: number, secret = SIGNING_SECRET): Record<string, string> {
  return {
    'content-type': 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': String(timestamp),
    'x-slack-signature': `v0=${hmacSha256Hex(secret, `v0:${timestamp}:${body}`)}`,
  };
}

let responseCounter = 0;

/** A response_url on the Slack stand-in; what is posted to it is read back with responsesTo. */
export function newResponseUrl(slack: FakeSlack): string {
  return `${new URL(slack.apiUrl).origin}/respond/${++responseCounter}`;
}

export function responsesTo(slack: FakeSlack, responseUrl: string): Array<Record<string, unknown>> {
  const method = new URL(responseUrl).pathname.slice(1);
  return slack.calls.filter((c) => c.method === method).map((c) => c.body);
}

/** Waits for the nth (1-based) answer posted to a response_url. */
export async function nthResponse(slack: FakeSlack, responseUrl: string, n = 1): Promise<Record<string, unknown>> {
  return waitUntil(`answer #${n} on ${responseUrl}`, () => responsesTo(slack, responseUrl)[n - 1]);
}

/** `/flightdeck <text>` from a user in a channel, signed now. */
export async function slashCommand(server: SlackServer, slack: FakeSlack, text: string, user: string, channel = 'CDEPLOYS'): Promise<{ ack: LightMyRequestResponse; responseUrl: string }> {
  const responseUrl = newResponseUrl(slack);
  const body = new URLSearchParams({ command: '/flightdeck', text, user_id: user, channel_id: channel, response_url: responseUrl, team_id: 'T0001' }).toString();
  const ack = await server.app.inject({ method: 'POST', url: '/slack/commands', payload: body, headers: slackSignature(body, Math.floor(server.deps.now() / 1000)) });
  return { ack, responseUrl };
}

/** A button press on a run's message, signed now. */
export async function pressButton(server: SlackServer, slack: FakeSlack, actionId: string, workflowId: string, user: string, channel: string | null = 'CDEPLOYS'): Promise<{ ack: LightMyRequestResponse; responseUrl: string }> {
  const responseUrl = newResponseUrl(slack);
  // channel null: a press Slack sends without a channel (e.g. from a message in an app's home).
  const payload = { type: 'block_actions', user: { id: user }, ...(channel === null ? {} : { channel: { id: channel } }), team: { id: 'T0001' }, response_url: responseUrl, actions: [{ action_id: actionId, value: workflowId, action_ts: String(Date.now() / 1000) }] };
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  const ack = await server.app.inject({ method: 'POST', url: '/slack/interactions', payload: body, headers: slackSignature(body, Math.floor(server.deps.now() / 1000)) });
  return { ack, responseUrl };
}
