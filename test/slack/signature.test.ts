// Slack's signature on the raw body, checked by the Slack routes before anything else: the published
// vector verifies; forged, stale, future, unsigned and replayed requests are refused and start nothing.
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { verifyTimestampedSignature } from '../../api/signatures.js';
import { parseAppsConfig } from '../../lib/config.js';
import { deployQueueStatus } from '../../lib/deployLocks.js';
import { slackSignature, startSlackServer, type SlackServer } from './helpers/slackServer.js';

// Slack's published example (docs; bolt-js and python-slack-sdk tests): see shared/reference/slack-github.md.
const VECTOR = {
  secret: '8f742231b10e8888abcd99yyyzzz85a5',
  timestamp: 1531420618,
  body: 'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c',
  signature: 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503',
};
const APP = `signed-${process.pid}`;

let connection: Connection;
let client: Client;
let nowMs = VECTOR.timestamp * 1000;
let server: SlackServer;

beforeAll(async () => {
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new Client({ connection, namespace: inject('temporalNamespace') });
  server = await startSlackServer({
    client, signingSecret: VECTOR.secret, now: () => nowMs,
    loadApps: () => parseAppsConfig({ apps: { [APP]: { repository: '/nowhere', environments: { staging: { flyApp: APP } } } } }),
  });
});
afterAll(async () => {
  await server?.close();
  await connection?.close();
});

const vectorHeaders = { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(VECTOR.timestamp), 'x-slack-signature': VECTOR.signature };
const deployBody = new URLSearchParams({ command: '/flightdeck', text: `deploy ${APP}`, user_id: 'U2CERLKJA', channel_id: 'C1', response_url: 'https://hooks.slack.com/commands/T1/1/x' }).toString();

async function post(payload: string, headers: Record<string, string>) {
  return server.app.inject({ method: 'POST', url: '/slack/commands', payload, headers });
}

function signatureFailures(): Promise<number> {
  return server.deps.metrics.signatureFailures.get().then((m) => m.values.find((v) => v.labels.source === 'slack')?.value ?? 0);
}

describe('Slack request signatures', () => {
  it("verifies Slack's published test vector", () => {
    const verdict = verifyTimestampedSignature({ rawBody: Buffer.from(VECTOR.body), timestamp: String(VECTOR.timestamp), signature: VECTOR.signature, secret: VECTOR.secret, nowMs: VECTOR.timestamp * 1000 });
    expect(verdict).toEqual({ isValid: true });
  });

  it('accepts the published request on the route and answers with the help text (its text is empty)', async () => {
    nowMs = VECTOR.timestamp * 1000 + 299_000;
    const response = await post(VECTOR.body, vectorHeaders);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ response_type: 'ephemeral', text: expect.stringContaining('/flightdeck deploy &lt;app&gt; [env] [ref]') });
  });

  it('refuses a forged signature and starts nothing', async () => {
    nowMs = VECTOR.timestamp * 1000;
    const before = await signatureFailures();
    const response = await post(deployBody, slackSignature(deployBody, VECTOR.timestamp, 'not-the-signing-secret'));
    expect(response.statusCode).toBe(401);
    expect(response.json()).toEqual({ error: 'unauthorized', message: 'Slack request refused: the signature does not match' });
    expect(await signatureFailures()).toBe(before + 1);
    expect(await deployQueueStatus(client, { app: APP, environment: 'staging' })).toBeUndefined();
  });

  it('refuses a body changed after signing', async () => {
    nowMs = VECTOR.timestamp * 1000;
    const response = await post(VECTOR.body.replace('text=', 'text=deploy'), vectorHeaders);
    expect(response.statusCode).toBe(401);
  });

  it('refuses a request signed more than 300 s ago, and one from more than 300 s in the future', async () => {
    nowMs = (VECTOR.timestamp + 301) * 1000;
    const stale = await post(deployBody, slackSignature(deployBody, VECTOR.timestamp, VECTOR.secret));
    expect(stale.statusCode).toBe(401);
    expect(stale.json().message).toMatch(/timestamp is 301 s from now \(at most 300 s allowed\)/);
    nowMs = (VECTOR.timestamp - 301) * 1000;
    const future = await post(deployBody, slackSignature(deployBody, VECTOR.timestamp, VECTOR.secret));
    expect(future.statusCode).toBe(401);
    expect(await deployQueueStatus(client, { app: APP, environment: 'staging' })).toBeUndefined();
  });

  it('refuses a request without the signature or timestamp header', async () => {
    nowMs = VECTOR.timestamp * 1000;
    const { 'x-slack-signature': _signature, ...withoutSignature } = slackSignature(deployBody, VECTOR.timestamp, VECTOR.secret);
    const { 'x-slack-request-timestamp': _timestamp, ...withoutTimestamp } = slackSignature(deployBody, VECTOR.timestamp, VECTOR.secret);
    for (const headers of [withoutSignature, withoutTimestamp]) {
      const response = await post(deployBody, headers);
      expect(response.statusCode).toBe(401);
      expect(response.json().message).toMatch(/missing signature or timestamp header/);
    }
  });

  it('refuses a replay of a signed request it has already accepted', async () => {
    nowMs = VECTOR.timestamp * 1000 + 1000;
    const body = VECTOR.body.replace('trigger_id=', 'trigger_id=replay');
    const headers = slackSignature(body, VECTOR.timestamp, VECTOR.secret);
    expect((await post(body, headers)).statusCode).toBe(200);
    const replay = await post(body, headers);
    expect(replay.statusCode).toBe(401);
    expect(replay.json().message).toMatch(/already received \(a replay\)/);
  });

  it('refuses a response_url outside hooks.slack.com, starting nothing', async () => {
    nowMs = VECTOR.timestamp * 1000;
    const body = deployBody.replace(encodeURIComponent('https://hooks.slack.com/commands/T1/1/x'), encodeURIComponent('https://attacker.example/collect'));
    const response = await post(body, slackSignature(body, VECTOR.timestamp, VECTOR.secret));
    expect(response.statusCode).toBe(400);
    expect(response.json().message).toMatch(/response_url must be a https:\/\/hooks.slack.com\/ URL/);
    expect(await deployQueueStatus(client, { app: APP, environment: 'staging' })).toBeUndefined();
  });
});
