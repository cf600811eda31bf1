import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueStatusQuery } from '../../lib/messages.js';
import { deployQueueId } from '../../lib/operations.js';
import { useDeployWorld, type TestApp } from '../helpers/deployWorld.js';
import { useWorkflowTestKit } from '../helpers/temporal.js';
import { pipelineRequest, rolloutsOf } from '../deploy/support.js';
import { auditLines, ciSignatureHeaders, expectNoDeployStarted, useApiWithWorker } from './apiHarness.js';

const kit = useWorkflowTestKit(fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)));
const world = useDeployWorld(kit);

const ISSUER = 'https://token.actions.test';
const AUDIENCE = 'flightdeck-tests';

let jwksServer: http.Server;
let jwksUrl: string;
let signingKey: CryptoKey;

beforeAll(async () => {
  const keys = await generateKeyPair('RS256', { extractable: true });
  signingKey = keys.privateKey;
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(keys.publicKey)), kid: 'test-key', alg: 'RS256', use: 'sig' }] });
  jwksServer = http.createServer((_request, response) => response.writeHead(200, { 'content-type': 'application/json' }).end(jwks));
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks`;
});
afterAll(() => {
  jwksServer?.close();
});

// Registered after the JWKS server's hook, so its URL is known when the server is built.
const harness = useApiWithWorker(kit, world, { env: () => ({ CI_OIDC_ISSUER: ISSUER, CI_OIDC_AUDIENCE: AUDIENCE, CI_OIDC_JWKS_URL: jwksUrl }) });

interface CiApp extends TestApp { repository: string }

async function createCiApp(pins: Record<string, unknown> = {}): Promise<CiApp> {
  const repository = `acme/${kit.uniqueId('shop')}`;
  const app = await world.createApp({ app: { github: { repository, ...pins } }, environment: { branch: 'main' } });
  return { ...app, repository };
}

function post(body: string, headers: Record<string, string>) {
  return harness.api.server.inject({ method: 'POST', url: '/webhooks/ci', payload: body, headers: { 'content-type': 'application/json', ...headers } });
}

function oidcToken(claims: Record<string, unknown>, options: { issuer?: string; audience?: string; expiresAt?: number } = {}) {
  const nowSeconds = Math.floor(Date.now() / 1000);
  return new SignJWT({ actor: 'octocat', jti: kit.uniqueId('jti'), ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: 'test-key' })
    .setIssuer(options.issuer ?? ISSUER).setAudience(options.audience ?? AUDIENCE)
    .setIssuedAt(nowSeconds - 60).setExpirationTime(options.expiresAt ?? nowSeconds + 300)
    .sign(signingKey);
}

// Each test its own app (and repository): side by side, up to the config's maxConcurrency.
describe.concurrent('POST /webhooks/ci with an HMAC signature', () => {
  it('deploys the commit a signed request names', async () => {
    const app = await createCiApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    const body = JSON.stringify({ app: app.name, environment: 'staging', sha });
    const response = await post(body, ciSignatureHeaders(body));
    expect(response.statusCode).toBe(202);
    expect(response.json().disposition).toBe('accepted');
    const status = await harness.waitForRun(response.json().workflowId);
    expect(status.state).toBe('succeeded');
    expect(status.trigger).toMatchObject({ source: 'ci', actor: 'ci' });
    expect((await pipelineRequest(kit.client, status.workflowId)).github).toBeUndefined();
    expect(await world.servedBody(app)).toContain('v2');
  });

  it('answers a replayed request with the run it already started', async () => {
    const app = await createCiApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    const body = JSON.stringify({ app: app.name, environment: 'staging', sha });
    const headers = ciSignatureHeaders(body);
    const first = (await post(body, headers)).json();
    const replayed = await post(body, headers);
    expect(replayed.json()).toEqual({ workflowId: first.workflowId, disposition: 'accepted' });
    expect((await harness.waitForRun(first.workflowId)).state).toBe('succeeded');
    const queue = await kit.client.workflow.getHandle(deployQueueId(app.name, 'staging')).query(queueStatusQuery);
    expect(queue.waiting).toBeUndefined();
    expect(rolloutsOf(world.sim, app)).toHaveLength(1);
  });

  it('finds the run a signed body started, whatever unsigned Idempotency-Key a replay carries', async () => {
    const app = await createCiApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    const body = JSON.stringify({ app: app.name, environment: 'staging', sha });
    const nowSeconds = Math.floor(Date.now() / 1000);
    const first = (await post(body, { ...ciSignatureHeaders(body, nowSeconds - 5), 'idempotency-key': 'build-981' })).json();
    const replayed = await post(body, { ...ciSignatureHeaders(body, nowSeconds - 5), 'idempotency-key': 'attacker-new-key' });
    expect(replayed.json()).toEqual({ workflowId: first.workflowId, disposition: 'accepted' });
    const resigned = await post(body, ciSignatureHeaders(body, nowSeconds));
    expect(resigned.json()).toEqual({ workflowId: first.workflowId, disposition: 'accepted' });
    await harness.waitForRun(first.workflowId);
    expect(rolloutsOf(world.sim, app)).toHaveLength(1);
  });

  it('refuses stale, future, forged and unsigned requests, counts them, and starts nothing', async () => {
    const app = await createCiApp();
    const body = JSON.stringify({ app: app.name, environment: 'staging', sha: 'd'.repeat(40) });
    const nowSeconds = Math.floor(Date.now() / 1000);
    const cases: Array<[Record<string, string>, RegExp]> = [
      [ciSignatureHeaders(body, nowSeconds - 301), /timestamp is 30\d s from now/],
      [ciSignatureHeaders(body, nowSeconds + 3600), /timestamp is 3\d{3} s from now/],
      [ciSignatureHeaders(body, nowSeconds, 'guessed-secret'), /signature does not match/],
      [{ 'x-flightdeck-timestamp': String(nowSeconds) }, /missing signature or timestamp header/],
    ];
    for (const [headers, reason] of cases) {
      const response = await post(body, headers);
      expect(response.statusCode).toBe(401);
      expect(response.json().message).toMatch(reason);
    }
    await expectNoDeployStarted(kit.client, app.name, 'staging');
    const metrics = await harness.api.server.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/flightdeck_signature_failures_total\{source="ci"\} ([4-9]|\d\d)/);
  });

  it('answers a signed request for an unknown app or a bad sha with 400 saying what is wrong', async () => {
    const unknownApp = JSON.stringify({ app: 'nope', environment: 'staging', sha: 'e'.repeat(40) });
    const unknown = await post(unknownApp, ciSignatureHeaders(unknownApp));
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().message).toMatch(/^unknown app "nope"; configured apps: /);
    const app = await createCiApp();
    const badSha = JSON.stringify({ app: app.name, environment: 'staging', sha: '--upload-pack=evil' });
    const refused = await post(badSha, ciSignatureHeaders(badSha));
    expect(refused.statusCode).toBe(400);
    expect(refused.json().message).toBe('invalid CI deploy request: sha: a hex commit sha of 7 to 64 characters');
    await expectNoDeployStarted(kit.client, app.name, 'staging');
  });
});

describe.concurrent('POST /webhooks/ci with a GitHub Actions OIDC token', () => {
  it("deploys when the token's repository and ref are the app's and the environment's", async () => {
    const app = await createCiApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    const token = await oidcToken({ repository: app.repository, ref: 'refs/heads/main', sha });
    const response = await post(JSON.stringify({ app: app.name, environment: 'staging', sha }), { authorization: `Bearer ${token}` });
    expect(response.statusCode).toBe(202);
    const status = await harness.waitForRun(response.json().workflowId);
    expect(status.state).toBe('succeeded');
    expect(status.trigger.actor).toBe('github-actions:octocat');
    // A GitHub Actions job deploys a GitHub commit: the run is shown on GitHub (with apps.<app>.github.token).
    expect((await pipelineRequest(kit.client, status.workflowId)).github).toEqual({});
  });

  it('refuses a second use of the same token (its jti), and starts nothing more', async () => {
    const app = await createCiApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    const token = await oidcToken({ repository: app.repository, ref: 'refs/heads/main', sha });
    const first = await post(JSON.stringify({ app: app.name, environment: 'staging', sha }), { authorization: `Bearer ${token}` });
    expect(first.statusCode).toBe(202);
    const reused = await post(JSON.stringify({ app: app.name, environment: 'staging', sha, ref: 'main' }), { authorization: `Bearer ${token}` });
    expect(reused.statusCode).toBe(401);
    expect(reused.json().message).toMatch(/^the OIDC token .* was already used; request a fresh token for each call$/);
    await harness.waitForRun(first.json().workflowId);
    expect(rolloutsOf(world.sim, app)).toHaveLength(1);
  });

  it("refuses a token whose workflow, event or repository id is not the app's pins, audits it, and starts nothing", async () => {
    const app = await createCiApp({ jobWorkflowRef: 'acme/shop/.github/workflows/deploy.yml@refs/heads/main', eventNames: ['push'], repositoryId: 4242 });
    const sha = 'e'.repeat(40);
    const body = JSON.stringify({ app: app.name, environment: 'staging', sha });
    const good = { repository: app.repository, ref: 'refs/heads/main', sha, job_workflow_ref: 'acme/shop/.github/workflows/deploy.yml@refs/heads/main', event_name: 'push', repository_id: '4242' };
    const refusal = async (claims: Record<string, unknown>) => (await post(body, { authorization: `Bearer ${await oidcToken({ ...good, ...claims })}` })).json();
    expect(await refusal({ job_workflow_ref: 'acme/shop/.github/workflows/pr.yml@refs/pull/1/merge' })).toMatchObject({ error: 'forbidden', message: expect.stringContaining('job_workflow_ref') });
    expect(await refusal({ event_name: 'pull_request_target' })).toMatchObject({ error: 'forbidden', message: expect.stringContaining('event_name pull_request_target is not one of push') });
    expect(await refusal({ repository_id: '666' })).toMatchObject({ error: 'forbidden', message: 'the token\'s repository_id 666 is not 4242' });
    await expectNoDeployStarted(kit.client, app.name, 'staging');
    expect(auditLines(harness.api).filter((line) => line.target === `${app.name}/staging` && line.outcome === 'refused')).toHaveLength(3);
  });

  it("refuses a prebuilt image that is not tagged with the token's commit", async () => {
    const app = await createCiApp();
    const sha = 'b'.repeat(40);
    const token = await oidcToken({ repository: app.repository, ref: 'refs/heads/main', sha });
    const response = await post(JSON.stringify({ app: app.name, environment: 'staging', sha, image: `registry.fly.io/${app.name}:latest` }), { authorization: `Bearer ${token}` });
    expect(response.statusCode).toBe(403);
    expect(response.json().message).toBe(`an OIDC caller's image must be tagged with the token's commit (${'b'.repeat(12)}), not registry.fly.io/${app.name}:latest`);
    await expectNoDeployStarted(kit.client, app.name, 'staging');
  });

  it('refuses a token for another audience or issuer, or an expired one, and starts nothing', async () => {
    const app = await createCiApp();
    const body = JSON.stringify({ app: app.name, environment: 'staging', sha: 'f'.repeat(40) });
    const claims = { repository: app.repository, ref: 'refs/heads/main' };
    const tokens = [
      await oidcToken(claims, { audience: 'someone-else' }),
      await oidcToken(claims, { issuer: 'https://evil.example' }),
      await oidcToken(claims, { expiresAt: Math.floor(Date.now() / 1000) - 120 }),
    ];
    const messages = [];
    for (const token of tokens) {
      const response = await post(body, { authorization: `Bearer ${token}` });
      expect(response.statusCode).toBe(401);
      messages.push(response.json().message);
    }
    expect(messages).toEqual([
      expect.stringMatching(/OIDC token was refused: .*"aud"/),
      expect.stringMatching(/OIDC token was refused: .*"iss"/),
      expect.stringMatching(/OIDC token was refused: .*"exp"/),
    ]);
    await expectNoDeployStarted(kit.client, app.name, 'staging');
  });

  it('refuses a valid token from another repository or branch, audits it, and starts nothing', async () => {
    const app = await createCiApp();
    const body = JSON.stringify({ app: app.name, environment: 'staging', sha: 'f'.repeat(40) });
    const otherRepository = await post(body, { authorization: `Bearer ${await oidcToken({ repository: 'mallory/fork', ref: 'refs/heads/main' })}` });
    expect(otherRepository.statusCode).toBe(403);
    expect(otherRepository.json().message).toBe(`the token's repository mallory/fork may not deploy app "${app.name}" (configured: ${app.repository})`);
    const otherBranch = await post(body, { authorization: `Bearer ${await oidcToken({ repository: app.repository, ref: 'refs/heads/feature' })}` });
    expect(otherBranch.statusCode).toBe(403);
    expect(otherBranch.json().message).toBe(`the token's ref refs/heads/feature may not deploy ${app.name}/staging (only refs/heads/main)`);
    const otherCommit = await post(body, { authorization: `Bearer ${await oidcToken({ repository: app.repository, ref: 'refs/heads/main', sha: 'a'.repeat(40) })}` });
    expect(otherCommit.statusCode).toBe(403);
    expect(otherCommit.json().message).toBe(`the token was issued for commit ${'a'.repeat(40)}; it may deploy only that commit, not ${'f'.repeat(40)}`);
    const foreignImage = await post(JSON.stringify({ app: app.name, environment: 'staging', sha: 'f'.repeat(40), image: 'docker.io/mallory/shop:latest' }),
      { authorization: `Bearer ${await oidcToken({ repository: app.repository, ref: 'refs/heads/main', sha: 'f'.repeat(40) })}` });
    expect(foreignImage.statusCode).toBe(403);
    expect(foreignImage.json().message).toBe(`an OIDC caller may deploy only images from registry.fly.io/${app.name}, not docker.io/mallory/shop:latest`);
    await expectNoDeployStarted(kit.client, app.name, 'staging');
    const refusals = auditLines(harness.api).filter((line) => line.target === `${app.name}/staging` && line.outcome === 'refused');
    expect(refusals).toHaveLength(4);
    expect(refusals[0]).toMatchObject({ actor: 'github-actions:octocat', action: 'deploy', source: 'ci' });
  });
});
