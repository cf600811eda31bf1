import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowNotFoundError } from '@temporalio/client';
import { healthWatchId, incidentRunId, startHealthWatches } from '../../lib/appOperations.js';
import { parseAppsConfig } from '../../lib/config.js';
import { healthWatchQuery } from '../../lib/messages.js';
import { useDeployWorld, type TestApp } from '../helpers/deployWorld.js';
import { useWorkflowTestKit } from '../helpers/temporal.js';
import { settle, waitUntil } from '../deploy/support.js';
import { restartsOf } from './support.js';

const kit = useWorkflowTestKit(fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)));
const world = useDeployWorld(kit);

/** The health URL the watch probes: answers as the test says, and counts the probes. */
let healthAnswers: number[] = [];
let healthAfterAnswers = 200;
let probes = 0;
let server: http.Server;
let healthUrl = '';

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/health') probes += 1;
    const status = req.url === '/health' ? (healthAnswers.shift() ?? healthAfterAnswers) : 200;
    res.writeHead(status).end(status === 200 ? 'ok' : 'down');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  healthUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function watchedApp(): Promise<TestApp> {
  return world.createApp({
    machines: 2,
    environment: {
      health: { url: healthUrl, consecutiveSuccesses: 2, interval: '100ms', deadline: '3s', requestTimeout: '1s' },
      watch: { every: '200ms', failures: 3, action: 'restart' },
    },
  });
}

async function startWatch(app: TestApp, taskQueue: string) {
  const started = await startHealthWatches(kit.client, parseAppsConfig({ apps: { [app.name]: world.apps[app.name] } }), taskQueue);
  expect(started).toEqual([healthWatchId(app.name, 'staging')]);
  return kit.client.workflow.getHandle(healthWatchId(app.name, 'staging'));
}

describe('health watch', () => {
  it('runs the incident runbook once for a sustained failure', { timeout: 90_000 }, async () => {
    const app = await watchedApp();
    healthAnswers = [];
    healthAfterAnswers = 500;
    await kit.withWorker(world.activities(), async (taskQueue) => {
      const watch = await startWatch(app, taskQueue);
      try {
        const incident = kit.client.workflow.getHandle(incidentRunId(app.name, 'staging'));
        await waitUntil('the incident runbook to start', () => incident.describe().then(() => true, () => false), 30_000);
        healthAfterAnswers = 200; // the restarts "heal" it
        const { status } = await settle(kit.client, incident.workflowId);
        expect(status.state).toBe('succeeded');
        const probesAfter = probes;
        await waitUntil('the watch to probe again, healthy', () => probes >= probesAfter + 4, 30_000);
        // One runbook: each machine restarted once.
        expect(restartsOf(world.sim, app)).toHaveLength(2);
        const seen = await watch.query(healthWatchQuery);
        expect(seen).toMatchObject({ consecutiveFailures: 0, lastAction: { action: 'restart', workflowId: incident.workflowId } });
        expect(world.slack.allText()).toMatch(new RegExp(`${app.name} staging: health failed 3 times in a row`));
      } finally {
        await watch.terminate('test over');
      }
    });
  });

  it('does not act on a single failed probe', { timeout: 60_000 }, async () => {
    const app = await watchedApp();
    healthAnswers = [500];
    healthAfterAnswers = 200;
    await kit.withWorker(world.activities(), async (taskQueue) => {
      const probesBefore = probes;
      const watch = await startWatch(app, taskQueue);
      try {
        await waitUntil('six probes', () => probes >= probesBefore + 6, 30_000);
        const seen = await watch.query(healthWatchQuery);
        expect(seen.consecutiveFailures).toBe(0);
        expect(seen.lastAction).toBeUndefined();
        await expect(kit.client.workflow.getHandle(incidentRunId(app.name, 'staging')).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
        expect(restartsOf(world.sim, app)).toHaveLength(0);
      } finally {
        await watch.terminate('test over');
      }
    });
  });
});
