// Freeze windows on the real worker, simulator and API: a frozen environment refuses deploys at the
// edge and at the pipeline's start, lets rollbacks through, and lets only named people break the glass.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { requestDeploy } from '../../lib/operations.js';
import { useDeployWorld, type TestApp } from '../helpers/deployWorld.js';
import { useWorkflowTestKit } from '../helpers/temporal.js';
import { deployRequest, rolloutsOf, settle } from '../deploy/support.js';
import { API_TOKEN, auditLines, useApiWithWorker } from '../api/apiHarness.js';

const kit = useWorkflowTestKit(fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)));
const world = useDeployWorld(kit);
const harness = useApiWithWorker(kit, world);

/** In force for the whole test run. */
const ALWAYS = { reason: 'Black Friday', from: '2000-01-01T00:00:00Z', to: '2100-01-01T00:00:00Z' };

function freeze(app: TestApp, breakGlass: string[]): void {
  const environments = (world.apps[app.name] as { environments: { staging: Record<string, unknown> } }).environments;
  environments.staging.freezes = [ALWAYS];
  environments.staging.breakGlass = breakGlass;
}

function post(url: string, body: unknown) {
  return harness.api.server.inject({ method: 'POST', url, payload: body as object, headers: { authorization: `Bearer ${API_TOKEN}` } });
}

async function deployByApi(app: TestApp, version: string, extra: object = {}) {
  const sha = app.repo.commit({ behaviour: { version } });
  return post('/deploys', { app: app.name, environment: 'staging', sha, ...extra });
}

describe('freeze windows', () => {
  it('refuses a deploy during a freeze, saying until when and why, and still lets a rollback run', async () => {
    const app = await world.createApp();
    const good = await deployByApi(app, 'v2');
    expect((await harness.waitForRun(good.json().workflowId)).state).toBe('succeeded');
    freeze(app, []);

    const refused = await deployByApi(app, 'v3');
    expect(refused.statusCode).toBe(409);
    expect(refused.json().message).toBe(`Deploys of ${app.name} to staging are frozen until 2100-01-01T00:00:00.000Z: Black Friday. `
      + 'Rollbacks still run; nobody may break the glass (set breakGlass).');
    expect(auditLines(harness.api).some((line) => line.action === 'deploy' && line.outcome === 'refused' && String(line.detail).includes('frozen'))).toBe(true);
    expect(rolloutsOf(world.sim, app)).toHaveLength(1);

    const rollback = await post('/rollbacks', { app: app.name, environment: 'staging', reason: 'v2 misbehaves' });
    expect(rollback.statusCode).toBe(202);
    expect((await harness.waitForRun(rollback.json().workflowId)).state).toBe('succeeded');
    expect(await world.servedBody(app)).toContain('v1');
  });

  it('lets a person on the breakGlass list deploy through a freeze, audit-logged and announced in Slack; nobody else', async () => {
    const app = await world.createApp();
    freeze(app, ['token:default']);
    const broken = await deployByApi(app, 'v2', { breakGlass: { reason: 'payment outage hotfix' } });
    expect(broken.statusCode).toBe(202);
    const status = await harness.waitForRun(broken.json().workflowId);
    expect(status.state).toBe('succeeded');
    expect(status.facts['break-glass']).toBe('token:default: payment outage hotfix');
    expect(await world.servedBody(app)).toContain('v2');
    expect(auditLines(harness.api).some((line) => line.action === 'break-glass' && line.outcome === 'allowed' && String(line.detail).includes('payment outage hotfix'))).toBe(true);
    expect(world.slack.allText()).toContain('Break-glass: token:default deploys through the freeze (Black Friday');

    const other = await world.createApp();
    freeze(other, ['U_ONCALL']);
    const refused = await deployByApi(other, 'v2', { breakGlass: { reason: 'I really want to' } });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().message).toContain('only U_ONCALL may break the glass (--break-glass "<reason>"). token:default is not on that list.');
    expect(rolloutsOf(world.sim, other)).toHaveLength(0);
  });

  it('refuses, when its pipeline starts, a deploy that reached a frozen environment past the edge', async () => {
    const app = await world.createApp();
    freeze(app, []);
    // As a deploy queued before the freeze began, or started by an operator talking to Temporal directly.
    const { workflowId } = await requestDeploy(kit.client, harness.api.deps.taskQueue, deployRequest(app, app.repo.commit({ behaviour: { version: 'v2' } })));
    const { status } = await settle(kit.client, workflowId);
    expect(status.state).toBe('refused');
    expect(status.outcome).toContain(`Deploys of ${app.name} to staging are frozen until 2100-01-01T00:00:00.000Z: Black Friday.`);
    expect(rolloutsOf(world.sim, app)).toHaveLength(0);
  });
});
