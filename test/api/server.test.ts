import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openApiDocument } from '../../api/openapi.js';
import { registeredRoutes } from '../../api/server.js';
import { parseAppsConfig } from '../../lib/config.js';
import { API_TOKEN, buildTestServer } from './apiHarness.js';

let connection: Connection;
let client: Client;
const apps = () => parseAppsConfig({ apps: { shop: { repository: '/tmp/shop', environments: { staging: { flyApp: 'shop-staging' } } } } });

beforeAll(async () => {
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new Client({ connection, namespace: inject('temporalNamespace') });
});
afterAll(async () => {
  await connection?.close();
});

const READ = { authorization: `Bearer ${API_TOKEN}` };
const build = (options: Partial<Parameters<typeof buildTestServer>[0]> = {}) => buildTestServer({ client, taskQueue: 'unused', apps, ...options });

describe('health and readiness', () => {
  it('answers /healthz while the process is up', async () => {
    const { server } = await build();
    const response = await server.inject({ method: 'GET', url: '/healthz' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'ok' });
  });

  it('is ready when Temporal answers and the config loads', async () => {
    const { server } = await build();
    const response = await server.inject({ method: 'GET', url: '/readyz' });
    expect(response.json()).toEqual({ status: 'ready' });
  });

  it('is not ready when the config does not load, and says why in the log only', async () => {
    const { server, logLines } = await build({ apps: () => parseAppsConfig({ apps: { shop: { environments: {} } } }) });
    const response = await server.inject({ method: 'GET', url: '/readyz' });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toEqual({ error: 'unavailable', message: 'the apps config does not load; see the server log' });
    expect(JSON.stringify(logLines)).toMatch(/apps\.shop\.repository/);
  });

  it('is not ready when Temporal does not answer', async () => {
    const unreachable = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
    const { server } = await build({ client: unreachable });
    const response = await server.inject({ method: 'GET', url: '/readyz' });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({ error: 'unavailable', message: expect.stringContaining('Temporal is not reachable') });
  });
});

describe('hardening', () => {
  it('refuses a body over 1 MiB with 413 and a JSON error', async () => {
    const { server } = await build();
    const response = await server.inject({
      method: 'POST', url: '/deploys', payload: JSON.stringify({ app: 'shop', environment: 'staging', ref: 'x'.repeat(1024 * 1024) }),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${API_TOKEN}` },
    });
    expect(response.statusCode).toBe(413);
    expect(response.json()).toMatchObject({ error: 'payload_too_large', message: expect.any(String) });
  });

  it('answers malformed JSON with 400 and what is wrong', async () => {
    const { server } = await build();
    const response = await server.inject({
      method: 'POST', url: '/deploys', payload: '{"app": "shop",', headers: { 'content-type': 'application/json', authorization: `Bearer ${API_TOKEN}` },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error: 'bad_request', message: expect.stringMatching(/JSON/) });
  });

  it('answers an unknown route with a JSON 404 that points at the OpenAPI document', async () => {
    const { server } = await build();
    const response = await server.inject({ method: 'GET', url: '/nope?x=1' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ error: 'not_found', message: 'no route GET /nope; see GET /openapi.json' });
  });

  it('answers a failure inside a route with 500 and no stack trace or internal message', async () => {
    const { server, logLines } = await build({ apps: () => { throw new Error('disk on fire at /secret/path'); } });
    const response = await server.inject({ method: 'GET', url: '/apps', headers: READ });
    expect(response.statusCode).toBe(500);
    expect(response.json()).toEqual({ error: 'internal', message: 'internal error; see the server log' });
    expect(response.body).not.toMatch(/disk on fire|at .*\.ts/);
    expect(logLines.some((line) => line.msg === 'request failed')).toBe(true);
  });

  it('limits each source address with a token bucket and says when to retry', async () => {
    let nowMs = 1_790_000_000_000;
    const { server } = await build({ env: { FLIGHTDECK_API_RATE_LIMIT_PER_MINUTE: '60', FLIGHTDECK_API_RATE_LIMIT_BURST: '2' }, now: () => nowMs });
    const get = (ip: string) => server.inject({ method: 'GET', url: '/apps', remoteAddress: ip, headers: READ });
    expect((await get('10.0.0.1')).statusCode).toBe(200);
    expect((await get('10.0.0.1')).statusCode).toBe(200);
    const limited = await get('10.0.0.1');
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBe('1');
    expect(limited.json().error).toBe('rate_limited');
    expect((await get('10.0.0.2')).statusCode).toBe(200);
    nowMs += 1000;
    expect((await get('10.0.0.1')).statusCode).toBe(200);
  });

  it("keys the limit on Fly-Client-IP behind Fly's proxy only when FLIGHTDECK_TRUST_PROXY is set", async () => {
    const limits = { FLIGHTDECK_API_RATE_LIMIT_PER_MINUTE: '1', FLIGHTDECK_API_RATE_LIMIT_BURST: '1' };
    const viaProxy = (server: Awaited<ReturnType<typeof build>>['server'], client: string) =>
      server.inject({ method: 'GET', url: '/openapi.json', remoteAddress: '172.16.0.2', headers: { 'fly-client-ip': client } });
    const trusting = (await build({ env: { ...limits, FLIGHTDECK_TRUST_PROXY: 'true' } })).server;
    expect([(await viaProxy(trusting, '203.0.113.7')).statusCode, (await viaProxy(trusting, '198.51.100.9')).statusCode]).toEqual([200, 200]);
    expect((await viaProxy(trusting, '203.0.113.7')).statusCode).toBe(429);
    // Not trusted: anyone could send the header to get a fresh bucket per request.
    const untrusting = (await build({ env: limits })).server;
    expect([(await viaProxy(untrusting, '203.0.113.7')).statusCode, (await viaProxy(untrusting, '198.51.100.9')).statusCode]).toEqual([200, 429]);
  });

  it('does not rate limit health probes and metric scrapes', async () => {
    const { server } = await build({ env: { FLIGHTDECK_API_RATE_LIMIT_PER_MINUTE: '1', FLIGHTDECK_API_RATE_LIMIT_BURST: '1' } });
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await server.inject({ method: 'GET', url: '/healthz' })).statusCode);
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
  });
});

describe('metrics and the OpenAPI document', () => {
  it('exposes request counts by route and status next to Node defaults', async () => {
    const { server } = await build();
    await server.inject({ method: 'GET', url: '/apps', headers: READ });
    const response = await server.inject({ method: 'GET', url: '/metrics' });
    expect(response.headers['content-type']).toMatch(/^text\/plain/);
    expect(response.body).toMatch(/flightdeck_http_request_duration_seconds_count\{method="GET",route="\/apps",status="200"\} 1/);
    expect(response.body).toContain('process_cpu_user_seconds_total');
  });

  it('describes every registered route in /openapi.json', async () => {
    const { server } = await build();
    const document = (await server.inject({ method: 'GET', url: '/openapi.json' })).json() as typeof openApiDocument;
    expect(document.openapi).toBe('3.1.0');
    const routes = registeredRoutes(server);
    expect(routes.length).toBeGreaterThan(10);
    const paths = document.paths as Record<string, Record<string, unknown>>;
    const undocumented = routes.filter((route) => !paths[openApiPath(route.url)]?.[route.method.toLowerCase()]);
    expect(undocumented).toEqual([]);
  });
});

/** Fastify's /runs/* and :name patterns in OpenAPI's {name} form. */
function openApiPath(url: string): string {
  return url.replace('/runs/*', '/runs/{id}').replace(/:(\w+)/g, '{$1}');
}
