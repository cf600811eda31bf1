// The production configuration: the real Temporal server on PostgreSQL (not the dev server), workers in
// their own processes. Two workers share one task queue and survive losing one; the server restarts under a
// deploy. One server for the file (its own databases on the run's PostgreSQL); the restart test goes last.
import os from 'node:os';
import type { Client } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { parseAppsConfig } from '../../lib/config.js';
import { requestDeploy } from '../../lib/operations.js';
import { listRuns } from '../../lib/runHistory.js';
import { runSearchAttributes } from '../../lib/runSearchAttributes.js';
import { isProcessRunning } from '../../sim/testing.js';
import { API_TOKEN, buildTestServer } from '../api/apiHarness.js';
import { useDeployWorld, type TestApp } from '../helpers/deployWorld.js';
import { useProductionTemporal } from '../helpers/productionTemporal.js';
import { useWorkerProcesses, type WorkerProcess } from '../helpers/workerProcess.js';
import { deployRequest, isStageRunning, rolloutsOf, settle, waitForStatus, waitUntil } from '../deploy/support.js';

const temporal = useProductionTemporal();
const world = useDeployWorld();
const workers = useWorkerProcesses(() => temporal.target());

/** The SDK's default worker identity: what the server records as the poller of each task. */
const identityOf = (worker: WorkerProcess) => `${worker.pid}@${os.hostname()}`;

async function startWorkers(taskQueue: string, count: number): Promise<WorkerProcess[]> {
  return Promise.all(Array.from({ length: count }, () => workers.start(taskQueue, world.workerProcessEnv())));
}

/** One deploy per app, all requested at once; answers the pipelines' workflow ids in app order. */
async function deployAll(client: Client, taskQueue: string, apps: TestApp[], behaviour: Record<string, unknown>): Promise<string[]> {
  const shas = apps.map((app) => app.repo.commit({ behaviour: { version: 'v2', ...behaviour } }));
  const runs = await Promise.all(apps.map((app, i) => requestDeploy(client, taskQueue, deployRequest(app, shas[i]!))));
  return runs.map((run) => run.workflowId);
}

/** Identities of the workers that ran the run's activities. */
async function activityWorkers(client: Client, workflowId: string): Promise<Set<string>> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return new Set((history.events ?? []).map((e) => e.activityTaskStartedEventAttributes?.identity).filter((id): id is string => !!id));
}

/** Each run succeeded, and each app got exactly one rollout of exactly one new image. */
async function expectEachDeployedOnce(client: Client, apps: TestApp[], workflowIds: string[]): Promise<void> {
  const outcomes = await Promise.all(workflowIds.map((id) => settle(client, id)));
  expect(outcomes.map((o) => o.status.state)).toEqual(workflowIds.map(() => 'succeeded'));
  for (const [i, app] of apps.entries()) {
    const image = String(outcomes[i]!.status.facts.image);
    expect(world.sim.deployCount(image)).toBe(1);
    expect(rolloutsOf(world.sim, app)).toHaveLength(1);
  }
}

describe('two workers on the production Temporal server', () => {
  it('share the pipelines of one task queue: both run pipeline activities', async () => {
    const apps = await Promise.all(Array.from({ length: 6 }, () => world.createApp({ machines: 1 })));
    const taskQueue = `share-${apps[0]!.name}`;
    const pair = await startWorkers(taskQueue, 2);

    const workflowIds = await deployAll(temporal.client, taskQueue, apps, {});

    await expectEachDeployedOnce(temporal.client, apps, workflowIds);
    const ranActivities = new Set<string>();
    for (const id of workflowIds) for (const identity of await activityWorkers(temporal.client, id)) ranActivities.add(identity);
    expect([...ranActivities].sort()).toEqual(pair.map(identityOf).sort());
  }, 240_000);

  it('lose no run and deploy no image twice when one is SIGKILLed under load', async () => {
    const apps = await Promise.all(Array.from({ length: 6 }, () => world.createApp({ machines: 1 })));
    const taskQueue = `kill-${apps[0]!.name}`;
    const [victim, survivor] = await startWorkers(taskQueue, 2);
    // Machines take seconds to pass their checks, so rollouts are in flight when the worker dies.
    const workflowIds = await deployAll(temporal.client, taskQueue, apps, { healthyAfterMs: 3000 });

    await waitUntil('a rollout running on the worker about to be killed', async () => {
      const descriptions = await Promise.all(workflowIds.map((id) => temporal.client.workflow.getHandle(id).describe()));
      return descriptions.some((d) => (d.raw.pendingActivities ?? []).some((a) =>
        a.activityType?.name === 'flyDeployImage' && a.lastWorkerIdentity === identityOf(victim!)));
    }, 120_000);
    await victim!.stop('kill');

    await expectEachDeployedOnce(temporal.client, apps, workflowIds);
    expect(isProcessRunning(survivor!.pid)).toBe(true);
  }, 300_000);
});

describe("Flightdeck's search attributes on the production Temporal server", () => {
  it('lists runs by their attributes, and runs started before them by their id, from PostgreSQL visibility', async () => {
    const app = `listing-${Date.now().toString(36)}`;
    const tagged = `tagged-${app}`;
    const untagged = `deploy/${app}/production/abc1234-00000001`;
    await temporal.client.workflow.start('deployPipeline', {
      workflowId: tagged, taskQueue: `no-worker-${app}`, args: [],
      typedSearchAttributes: runSearchAttributes({ kind: 'deploy', app, environment: 'production', state: 'waiting-for-approval' }),
    });
    await temporal.client.workflow.start('deployPipeline', { workflowId: untagged, taskQueue: `no-worker-${app}`, args: [] });
    try {
      const listed = await waitUntil('both runs to be listed', async () => {
        const runs = await listRuns(temporal.client, { app, environment: 'production' });
        return runs.length === 2 ? runs : undefined;
      });
      expect(listed.map((run) => run.workflowId)).toEqual([untagged, tagged]);
      expect((await listRuns(temporal.client, { app, state: 'waiting-for-approval', isRunning: true })).map((run) => run.workflowId)).toEqual([tagged]);
    } finally {
      for (const id of [tagged, untagged]) await temporal.client.workflow.getHandle(id).terminate('listing checked');
    }
  });
});

describe('a Temporal server restart in the middle of a deploy', () => {
  it('resumes the run to success with one rollout, the API answering 503 meanwhile and the worker reconnecting by itself', async () => {
    const [app, otherApp] = [await world.createApp(), await world.createApp()];
    const taskQueue = `restart-${app.name}`;
    const worker = (await startWorkers(taskQueue, 1))[0]!;
    const api = await buildTestServer({ client: temporal.client, taskQueue, apps: () => parseAppsConfig({ apps: world.apps }) });
    const [workflowId] = await deployAll(temporal.client, taskQueue, [app], { healthyAfterMs: 4000 });
    await waitForStatus(temporal.client, workflowId!, 'the deploy stage running', (s) => isStageRunning(s, 'deploy'), 120_000);

    await temporal.server.stop();
    const deploy = await api.server.inject({
      method: 'POST', url: '/deploys',
      payload: { app: otherApp.name, environment: 'staging', sha: otherApp.repo.commit({ behaviour: { version: 'v2' } }) },
      headers: { authorization: `Bearer ${API_TOKEN}` },
    });
    expect(deploy.statusCode).toBe(503);
    expect(deploy.headers['retry-after']).toBe('5');
    expect(deploy.json()).toEqual({ error: 'unavailable', message: 'Temporal is unreachable (its server may be restarting); retry in 5 s.' });
    const readiness = await api.server.inject({ method: 'GET', url: '/readyz' });
    expect(readiness.statusCode).toBe(503);
    await temporal.server.start();

    const { status } = await settle(temporal.client, workflowId!);
    expect(status.state).toBe('succeeded');
    expect(world.sim.deployCount(String(status.facts.image))).toBe(1);
    expect(rolloutsOf(world.sim, app)).toHaveLength(1);
    expect(await world.servedBody(app)).toContain('v2');
    // The same worker process finished it: it reconnected on its own.
    expect(isProcessRunning(worker.pid)).toBe(true);
    expect(await activityWorkers(temporal.client, workflowId!)).toEqual(new Set([identityOf(worker)]));
    expect((await api.server.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    await api.server.close();
  }, 300_000);
});
