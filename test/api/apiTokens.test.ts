// Named API tokens, stored as hashes, each with scopes; prebuilt images only from the app's own Fly
// registry unless the environment allows more; the read API only with the read scope.
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { hashApiToken } from '../../lib/apiTokens.js';
import { ConfigError, parseAppsConfig } from '../../lib/config.js';
import { deployQueueId } from '../../lib/operations.js';
import { API_TOKEN, buildTestServer, type ApiHarness } from './apiHarness.js';

const STAGING_DEPLOYER = 'fd-staging-deployer-token-61be0c';
const READER = 'fd-reader-token-0d94aa';
const BACKUPS = 'fd-backups-token-5a2f7e';

let connection: Connection;
let client: Client;
let api: ApiHarness;
let taskQueue: string;

const apps = () => parseAppsConfig({
  apps: {
    shop: {
      repository: '/tmp/shop',
      environments: {
        staging: { flyApp: 'shop-staging' },
        production: { flyApp: 'shop', allowedImageRegistries: ['ghcr.io/acme/shop'] },
      },
    },
  },
  databases: { orders: { secret: 'ORDERS_DATABASE_URL' } },
  apiTokens: {
    'staging-ci': { sha256: hashApiToken(STAGING_DEPLOYER), scopes: ['deploy:shop/staging'] },
    dashboard: { sha256: hashApiToken(READER), scopes: ['read'] },
    'nightly-job': { sha256: hashApiToken(BACKUPS), scopes: ['backup:*'] },
  },
});

beforeAll(async () => {
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new Client({ connection, namespace: inject('temporalNamespace') });
  taskQueue = `no-worker-${Date.now()}`;
  api = await buildTestServer({ client, taskQueue, apps });
});
afterAll(async () => {
  await connection?.close();
});

const post = (url: string, token: string, payload: object) => api.server.inject({ method: 'POST', url, payload, headers: { authorization: `Bearer ${token}` } });
const get = (url: string, token?: string) => api.server.inject({ method: 'GET', url, headers: token ? { authorization: `Bearer ${token}` } : {} });

async function isQueueStarted(app: string, environment: string): Promise<boolean> {
  return client.workflow.getHandle(deployQueueId(app, environment)).describe().then(() => true, () => false);
}

describe('scoped API tokens', () => {
  it('refuses a token scoped to staging a production deploy, audit-logs it, and queues nothing', async () => {
    const response = await post('/deploys', STAGING_DEPLOYER, { app: 'shop', environment: 'production', sha: 'a'.repeat(40) });
    expect(response.statusCode).toBe(403);
    expect(response.json().message).toBe('token staging-ci may not deploy shop/production: it needs the scope deploy:shop/production');
    expect(api.logLines).toContainEqual(expect.objectContaining({ audit: true, actor: 'api:staging-ci', action: 'deploy', target: 'shop/production', outcome: 'refused' }));
    expect(await isQueueStarted('shop', 'production')).toBe(false);
  });

  it('refuses a rollback and a backup to a token that only deploys', async () => {
    expect((await post('/rollbacks', STAGING_DEPLOYER, { app: 'shop', environment: 'staging' })).statusCode).toBe(403);
    expect((await post('/backups', STAGING_DEPLOYER, { database: 'orders' })).statusCode).toBe(403);
  });

  it('starts what a scope covers: a backup with backup:*', async () => {
    const response = await post('/backups', BACKUPS, { database: 'orders' });
    expect(response.statusCode).toBe(202);
    await client.workflow.getHandle(response.json().workflowId).terminate('test done');
  });

  it('accepts only token hashes in the apps file, never a token', () => {
    const withPlainToken = () => parseAppsConfig({ apiTokens: { ci: { sha256: STAGING_DEPLOYER, scopes: ['read'] } } });
    expect(withPlainToken).toThrow(ConfigError);
    expect(() => parseAppsConfig({ apiTokens: { ci: { sha256: hashApiToken(READER), scopes: ['deploy:everything'] } } })).toThrow(/a scope: read, deploy:<app>\/<env>/);
  });
});

describe('prebuilt images', () => {
  it("refuses an image from another registry even to the all-scopes token, audit-logs it, and queues nothing", async () => {
    const response = await post('/deploys', API_TOKEN, { app: 'shop', environment: 'staging', image: 'evil.io/x:1' });
    expect(response.statusCode).toBe(403);
    expect(response.json().message).toContain('evil.io/x:1 is not from an allowed registry for this environment (registry.fly.io/shop-staging)');
    expect(api.logLines).toContainEqual(expect.objectContaining({ audit: true, action: 'deploy', target: 'shop/staging', outcome: 'refused' }));
    expect(await isQueueStarted('shop', 'staging')).toBe(false);
  });

  it("refuses a look-alike of the app's registry, and of a registry the environment allows", async () => {
    expect((await post('/deploys', API_TOKEN, { app: 'shop', environment: 'staging', image: 'registry.fly.io/shop-staging-evil:1' })).statusCode).toBe(403);
    expect((await post('/deploys', API_TOKEN, { app: 'shop', environment: 'production', image: 'ghcr.io/acme/shop-fork:1' })).statusCode).toBe(403);
  });
});

describe('read API', () => {
  it('answers only a token with the read scope', async () => {
    expect((await get('/runs')).statusCode).toBe(401);
    expect((await get('/runs/deploy%2Fshop%2Fstaging%2Fabc')).statusCode).toBe(401);
    expect((await get('/apps', STAGING_DEPLOYER)).statusCode).toBe(403);
    expect((await get('/apps', READER)).statusCode).toBe(200);
  });

  it('answers anyone when public reads are explicitly on, and still serves probes and metrics without a token', async () => {
    const open = await buildTestServer({ client, taskQueue, apps, env: { FLIGHTDECK_PUBLIC_READS: 'true' } });
    expect((await open.server.inject({ method: 'GET', url: '/apps' })).statusCode).toBe(200);
    expect((await get('/healthz')).statusCode).toBe(200);
    const metrics = await get('/metrics');
    expect(metrics.statusCode).toBe(200);
    expect(metrics.body).not.toMatch(/shop|orders|staging-ci/);
  });

  it('refuses a run list larger than 100', async () => {
    expect((await get('/runs?limit=101', READER)).statusCode).toBe(400);
  });
});
