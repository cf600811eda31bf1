// Text from tests, flyctl, reasons and lock notes reaches Slack as text, never as Slack markup:
// `<!channel>` cannot ping and `<https://evil|fly.io>` cannot disguise a link. And only the
// configured workspace, app and channels may command.
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createSlackActivities, createSlackClient } from '../../activities/slack.js';
import { parseAppsConfig } from '../../lib/config.js';
import { createLogger } from '../../lib/log.js';
import type { RunStatus } from '../../lib/messages.js';
import { renderRunBlocks, renderRunText, SLACK_ACTIONS } from '../../lib/runReport.js';
import { startFakeSlack, type FakeSlack } from '../helpers/fakeSlack.js';
import { nthResponse, pressButton, slashCommand, startSlackServer, type SlackServer } from './helpers/slackServer.js';

const PING = '<!channel>';
const PHISH = '<https://evil.example|fly.io>';

let slack: FakeSlack;
let server: SlackServer;
let strictServer: SlackServer;
let connection: Connection;
const apps = { shop: { repository: '.', environments: { staging: { flyApp: 'shop-staging' } } } };

beforeAll(async () => {
  slack = await startFakeSlack();
  connection = await Connection.connect({ address: inject('temporalAddress') });
  const client = new Client({ connection, namespace: inject('temporalNamespace') });
  const loadApps = () => parseAppsConfig({ apps, slack: { allowedChannels: ['CDEPLOYS'] } });
  server = await startSlackServer({ client, slackApiUrl: slack.apiUrl, loadApps });
  strictServer = await startSlackServer({ client, slackApiUrl: slack.apiUrl, loadApps, env: { SLACK_TEAM_ID: 'TACME', SLACK_APP_ID: 'AFLIGHTDECK' } });
});
afterAll(async () => {
  await Promise.allSettled([server?.close(), strictServer?.close(), slack?.close()]);
  await connection?.close();
});

function hostileStatus(): RunStatus {
  return {
    kind: 'deploy', app: 'shop', environment: 'staging', workflowId: 'deploy/shop/staging/abc', state: 'failed',
    trigger: { source: 'cli', actor: `mallory ${PING}` }, startedAt: '2026-12-01T00:00:00Z',
    outcome: `test failed: ${PING} see ${PHISH} & more`,
    stages: [{ name: 'test', state: 'failed', detail: `expected <b> ${PING}` }],
    facts: { lock: `frozen by ${PHISH}` },
  };
}

describe('Slack text from untrusted values', () => {
  it('escapes outcomes, facts, stage details and actors in the run message', () => {
    const text = renderRunText(hostileStatus());
    expect(text).not.toMatch(/<[!h@]/);
    expect(text).toContain('test failed: &lt;!channel&gt; see &lt;https://evil.example|fly.io&gt; &amp; more');
    expect(text).toContain('by mallory &lt;!channel&gt; via cli');
    expect(JSON.stringify(renderRunBlocks(hostileStatus(), 'https://temporal.example/ns/'))).not.toContain(PING);
  });

  it('escapes thread replies, keeping only Flightdeck’s own @here on a failure alert', async () => {
    const activities = createSlackActivities({ client: createSlackClient('xoxb-test', slack.apiUrl), logger: createLogger({ level: 'silent' }) });
    await activities.postThreadReply({ channel: '#inject', threadTs: '1.1', text: `:x: smoke failed: ${PING} ${PHISH}` });
    await activities.postThreadReply({ channel: '#inject', text: `Backup of shop FAILED: ${PING}`, isAlert: true });
    const texts = slack.messages.filter((m) => m.channel === '#inject').map((m) => m.text);
    expect(texts).toEqual([
      ':x: smoke failed: &lt;!channel&gt; &lt;https://evil.example|fly.io&gt;',
      ':rotating_light: <!here> Backup of shop FAILED: &lt;!channel&gt;',
    ]);
  });

  it("escapes the command's own text in an answer", async () => {
    const { ack } = await slashCommand(server, slack, `deploy ${PING}`, 'UALICE1');
    const text = String((ack.json() as { text: string }).text);
    expect(text).toContain('&lt;!channel&gt;');
    expect(text).not.toContain(PING);
  });
});

describe('who may command', () => {
  it('refuses a button press that names no channel when channels are allowlisted, and audit-logs it', async () => {
    const { ack, responseUrl } = await pressButton(server, slack, SLACK_ACTIONS.approve, 'deploy/shop/staging/abc-1', 'UMALLORY', null);
    expect(ack.statusCode).toBe(200);
    expect(await nthResponse(slack, responseUrl)).toMatchObject({ replace_original: false, text: expect.stringContaining('this request named no channel') });
    expect(server.auditLines()).toContainEqual(expect.objectContaining({ actor: 'UMALLORY', action: 'approve', outcome: 'refused', source: 'slack' }));
  });

  it('refuses a signed command from another workspace or app, audit-logs it, and starts nothing', async () => {
    const { ack, responseUrl } = await slashCommand(strictServer, slack, 'deploy shop staging', 'UALICE1');
    expect(ack.statusCode).toBe(403);
    expect(ack.json()).toMatchObject({ message: 'Slack request refused: workspace T0001 is not TACME; app (none) is not AFLIGHTDECK' });
    expect(strictServer.auditLines()).toContainEqual(expect.objectContaining({ actor: 'UALICE1', outcome: 'refused', source: 'slack' }));
    expect(slack.calls.filter((c) => c.method === new URL(responseUrl).pathname.slice(1))).toEqual([]);
  });
});
