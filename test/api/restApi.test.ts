import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { parseAppsConfig } from '../../lib/config.js';
import { lockDeploys } from '../../lib/deployLocks.js';
import { useDeployWorld } from '../helpers/deployWorld.js';
import { useWorkflowTestKit } from '../helpers/temporal.js';
import { API_TOKEN, auditLines, buildTestServer, expectNoDeployStarted, useApiWithWorker } from './apiHarness.js';

const kit = useWorkflowTestKit(fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)));
const world = useDeployWorld(kit);

const backupDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flightdeck-api-backups-'));

const appsConfig = () => parseAppsConfig({
  apps: world.apps,
  databases: { orders: { app: 'orders-app', secret: 'ORDERS_DATABASE_URL' } },
  storage: { type: 'local', dir: backupDir },
});

const harness = useApiWithWorker(kit, world, { apps: appsConfig });
afterAll(() => {
  fs.rmSync(backupDir, { recursive: true, force: true });
});

const READ = { authorization: `Bearer ${API_TOKEN}` };

function write(url: string, body: unknown, headers: Record<string, string> = { authorization: `Bearer ${API_TOKEN}` }) {
  return harness.api.server.inject({ method: 'POST', url, payload: body as object, headers });
}

describe('write API', () => {
  it('refuses a missing or wrong bearer token and starts nothing', async () => {
    const app = await world.createApp();
    const body = { app: app.name, environment: 'staging', sha: 'a'.repeat(40) };
    const badHeaders: Array<Record<string, string>> = [{}, { authorization: 'Bearer wrong-token' }, { authorization: API_TOKEN }];
    for (const headers of badHeaders) {
      const response = await write('/deploys', body, headers);
      expect(response.statusCode).toBe(401);
      expect(response.json()).toEqual({ error: 'unauthorized', message: 'send Authorization: Bearer <an API token>' });
    }
    await expectNoDeployStarted(kit.client, app.name, 'staging');
    expect(auditLines(harness.api).filter((line) => line.action === 'POST /deploys' && line.outcome === 'refused').length).toBeGreaterThanOrEqual(3);
  });

  it('is disabled, saying how to enable it, while no API token is configured', async () => {
    const withoutToken = await buildTestServer({ client: kit.client, taskQueue: 'unused', apps: appsConfig, env: { FLIGHTDECK_API_TOKEN: '' } });
    const response = await withoutToken.server.inject({ method: 'POST', url: '/rollbacks', payload: {}, headers: { authorization: 'Bearer anything' } });
    expect(response.statusCode).toBe(403);
    expect(response.json().message).toBe('the write API is disabled: add a named token (apiTokens in the apps file) or set FLIGHTDECK_API_TOKEN to enable it');
  });

  it('queues a deploy for the named actor and audits it', async () => {
    const app = await world.createApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    const response = await write('/deploys', { app: app.name, environment: 'staging', sha }, { authorization: `Bearer ${API_TOKEN}`, 'x-flightdeck-actor': 'alice' });
    expect(response.statusCode).toBe(202);
    const { workflowId } = response.json();
    const status = await harness.waitForRun(workflowId);
    expect(status.state).toBe('succeeded');
    expect(status.trigger).toEqual({ source: 'api', actor: 'api:alice', identity: 'token:default' });
    expect(auditLines(harness.api).find((line) => line.target === `${app.name}/staging`)).toMatchObject({ actor: 'api:alice', action: 'deploy', outcome: 'allowed', source: 'api' });
  });

  it('answers an invalid deploy request with 400 naming each problem, and starts nothing', async () => {
    const app = await world.createApp();
    const response = await write('/deploys', { app: app.name, environment: 'staging', ref: '--upload-pack=touch /tmp/x', extra: 1 });
    expect(response.statusCode).toBe(400);
    expect(response.json().message).toMatch(/^invalid deploy request: ref: a git branch.*; \(root\): Unrecognized key: "extra"$/);
    const missingEnvironment = await write('/deploys', { app: app.name });
    expect(missingEnvironment.json().message).toBe('invalid deploy request: environment: required (string)');
    const unknownEnvironment = await write('/deploys', { app: app.name, environment: 'production' });
    expect(unknownEnvironment.json().message).toBe(`app "${app.name}" has no environment "production"; it has: staging`);
    await expectNoDeployStarted(kit.client, app.name, 'staging');
  });

  it('refuses a deploy of a locked app and environment with 409 saying who locked it and why', async () => {
    const app = await world.createApp();
    await lockDeploys(kit.client, harness.api.deps.taskQueue, { app: app.name, environment: 'staging', owner: 'U-bob', reason: 'release freeze' });
    const response = await write('/deploys', { app: app.name, environment: 'staging', sha: 'b'.repeat(40) });
    expect(response.statusCode).toBe(409);
    expect(response.json()).toMatchObject({ error: 'conflict', message: expect.stringMatching(/^Deploys of .* are locked by U-bob .*: release freeze\./) });
    expect(auditLines(harness.api).find((line) => line.target === `${app.name}/staging`)).toMatchObject({ action: 'deploy', outcome: 'refused' });
  });

  it('starts a rollback to a named image', async () => {
    const app = await world.createApp({ environment: { lockAfterRollback: false } });
    const response = await write('/rollbacks', { app: app.name, environment: 'staging', image: app.initialImage, reason: 'bad release' });
    expect(response.statusCode).toBe(202);
    const { workflowId } = response.json();
    expect(workflowId).toMatch(new RegExp(`^rollback/${app.name}/staging/`));
    const status = await harness.waitForRun(workflowId);
    expect(status.kind).toBe('rollback');
    expect(status.trigger).toMatchObject({ actor: 'api:default', identity: 'token:default' });
  });

  it('starts a backup of a configured database and refuses an unknown one', async () => {
    // On a task queue no worker polls: the run is started, and stays pending for this test.
    const idle = await buildTestServer({ client: kit.client, taskQueue: kit.uniqueId('no-worker'), apps: appsConfig });
    const response = await idle.server.inject({ method: 'POST', url: '/backups', payload: { database: 'orders' }, headers: { authorization: `Bearer ${API_TOKEN}`, 'idempotency-key': 'nightly-retry-1' } });
    expect(response.statusCode).toBe(202);
    const { workflowId } = response.json();
    expect(workflowId).toBe('backup/orders/on-demand/key_nightly-retry-1');
    const description = await kit.client.workflow.getHandle(workflowId).describe();
    expect(description.type).toBe('backupDatabase');
    await kit.client.workflow.getHandle(workflowId).terminate('test done');
    const unknown = await write('/backups', { database: 'payments' });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().message).toBe('unknown database "payments"; configured databases: orders');
  });
});

describe('read API', () => {
  it('lists the configured apps and databases without secrets', async () => {
    const app = await world.createApp();
    const response = await harness.api.server.inject({ method: 'GET', url: '/apps', headers: READ });
    const listed = response.json().apps.find((a: { name: string }) => a.name === app.name);
    expect(listed.environments).toEqual([{ name: 'staging', flyApp: app.name, strategy: 'rolling', isApprovalRequired: false, onFailure: 'rollback' }]);
    expect(response.json().databases).toEqual([{ name: 'orders', app: 'orders-app', schedule: '0 2 * * *', timezone: 'UTC' }]);
  });

  it("lists an app's runs and answers a run's status by its id, encoded or as a path", async () => {
    const app = await world.createApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    const { workflowId } = (await write('/deploys', { app: app.name, environment: 'staging', sha })).json();
    await harness.waitForRun(workflowId);
    await vi.waitFor(async () => {
      const runs = (await harness.api.server.inject({ method: 'GET', url: `/runs?app=${app.name}&env=staging&kind=deploy`, headers: READ })).json().runs;
      expect(runs).toEqual([expect.objectContaining({ workflowId, kind: 'deploy', app: app.name, environment: 'staging', status: 'COMPLETED', verdict: 'verified' })]);
    }, { timeout: 20_000, interval: 250 });
    const encoded = await harness.api.server.inject({ method: 'GET', url: `/runs/${encodeURIComponent(workflowId)}`, headers: READ });
    expect(encoded.json()).toMatchObject({ workflowId, kind: 'deploy', state: 'succeeded' });
    const asPath = await harness.api.server.inject({ method: 'GET', url: `/runs/${workflowId}`, headers: READ });
    expect(asPath.json()).toEqual(encoded.json());
  });

  it("lists an environment's release ledger with Flightdeck's verdicts, and refuses an unknown environment", async () => {
    const app = await world.createApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    const { workflowId } = (await write('/deploys', { app: app.name, environment: 'staging', sha })).json();
    await harness.waitForRun(workflowId);
    const response = await harness.api.server.inject({ method: 'GET', url: `/apps/${app.name}/environments/staging/releases`, headers: READ });
    expect(response.statusCode).toBe(200);
    expect(response.json().releases.map((e: { id: string; kind: string; verdict: string; commit?: string }) => [e.kind, e.verdict, e.commit])).toEqual([
      ['deploy', 'verified', sha], ['adopted', 'verified-by-probe', undefined],
    ]);
    expect(response.json().releases[0].id).toBe(workflowId);
    const unknown = await harness.api.server.inject({ method: 'GET', url: `/apps/${app.name}/environments/moon/releases`, headers: READ });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().message).toMatch(/moon/);
  });

  it('answers an unknown run with 404 and a bad filter with 400', async () => {
    const missing = await harness.api.server.inject({ method: 'GET', url: '/runs/deploy%2Fnope%2Fstaging%2Fabc', headers: READ });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().message).toBe('no run with id deploy/nope/staging/abc; GET /runs lists them');
    const badKind = await harness.api.server.inject({ method: 'GET', url: '/runs?kind=party', headers: READ });
    expect(badKind.statusCode).toBe(400);
    expect(badKind.json().message).toMatch(/^invalid query: kind: /);
  });

  it("lists a database's backups and refuses an unknown database", async () => {
    const known = await harness.api.server.inject({ method: 'GET', url: '/backups?db=orders', headers: READ });
    expect(known.statusCode).toBe(200);
    expect(known.json()).toEqual({ backups: [] });
    const unknown = await harness.api.server.inject({ method: 'GET', url: '/backups?db=payments', headers: READ });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().message).toBe('unknown database "payments"; configured databases: orders');
  });
});
