// Health and smoke read what the runbooks read: the JSON status of /health (a 200 saying "degraded"
// is not healthy), security headers, and the request metric in /metrics.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { SimAppManifest } from '../../sim/testing.js';
import { useDeployWorld, type TestApp } from '../helpers/deployWorld.js';
import { useWorkflowTestKit } from '../helpers/temporal.js';
import { deployPrebuiltImage, machineImages } from './support.js';

const kit = useWorkflowTestKit(fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)));
const world = useDeployWorld(kit);

const HEALTHY_STATUS: SimAppManifest = { routes: { '/status': { json: { status: 'ok', checks: { postgres: { status: 'pass' } } } } } };
const SECURE_HOME = { '/': { body: 'home', headers: { 'strict-transport-security': 'max-age=63072000', 'x-ratelimit-limit': '100' } } };
const SMOKE_CHECKS = [
  { name: 'security headers', path: '/', headers: { 'strict-transport-security': 'max-age=', 'x-ratelimit-limit': '' } },
  { name: 'request metric', path: '/metrics', metrics: ['http_requests_total'] },
];

const deployImage = (app: TestApp, behaviour: SimAppManifest) => deployPrebuiltImage(kit, world, app, behaviour);

describe('health and smoke checks read the answer, not only its status', () => {
  it('treats a 200 health answer whose JSON says degraded as unhealthy, and rolls back', async () => {
    const app = await world.createApp({
      machines: 1,
      image: HEALTHY_STATUS,
      environment: { health: { path: '/status', consecutiveSuccesses: 2, interval: '100ms', deadline: '2s', requestTimeout: '1s', expect: { json: { status: 'ok', 'checks.postgres.status': 'pass' } } } },
    });
    const { status } = await deployImage(app, {
      version: 'v2', routes: { '/status': { json: { status: 'degraded', checks: { postgres: { status: 'fail' } } } } },
    });
    expect(status.stages.find((s) => s.name === 'health')?.state).toBe('failed');
    expect(status.outcome).toMatch(/JSON status is "degraded", expected "ok"/);
    expect(status.state).toBe('rolled-back');
    expect(await machineImages(world.sim, app)).toEqual([app.initialImage]);
  });

  it('fails the smoke checks when a security header is missing', async () => {
    const app = await world.createApp({ machines: 1, image: { routes: SECURE_HOME }, app: { smokeChecks: SMOKE_CHECKS } });
    const { status } = await deployImage(app, { version: 'v2', routes: { '/': { body: 'home' } } });
    expect(status.stages.find((s) => s.name === 'smoke')?.state).toBe('failed');
    expect(status.outcome).toMatch(/security headers \(GET \/: header strict-transport-security missing\)/);
    expect(status.state).toBe('rolled-back');
  });

  it('passes the smoke checks when the headers and the request metric are there', async () => {
    const app = await world.createApp({ machines: 1, image: { routes: SECURE_HOME }, app: { smokeChecks: SMOKE_CHECKS } });
    const { status } = await deployImage(app, { version: 'v2', routes: SECURE_HOME });
    expect(status.state).toBe('succeeded');
    expect(status.checks?.map((c) => `${c.name}: ${c.isPassed}`)).toEqual(['security headers: true', 'request metric: true']);
  });
});
