import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { requestDeploy } from '../../lib/operations.js';
import { useDeployWorld } from '../helpers/deployWorld.js';
import { useWorkerProcesses } from '../helpers/workerProcess.js';
import { deployRequest, isStageRunning, machineImages, releasesOf, rolloutsOf, settle, waitForStatus, waitUntil } from './support.js';

// The worker runs in separate processes here, so this file talks to the server as a plain client.
const world = useDeployWorld();
const workers = useWorkerProcesses();
let client: Client;
let connection: Connection;

beforeAll(async () => {
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new Client({ connection, namespace: inject('temporalNamespace') });
});
afterAll(async () => {
  await connection?.close();
});

const startWorkerProcess = (taskQueue: string) => workers.start(taskQueue, world.workerProcessEnv());

describe('a worker killed mid-deploy', () => {
  it('lets the rollout finish, and a new worker completes the run with exactly one deploy of the image', async () => {
    const app = await world.createApp();
    // Each machine takes seconds to pass its checks, so the rollout outlives the worker by a while.
    const sha = app.repo.commit({ behaviour: { version: 'v2', healthyAfterMs: 6000 } });
    const taskQueue = `crash-${app.name}`;
    const firstWorker = await startWorkerProcess(taskQueue);

    const { workflowId } = await requestDeploy(client, taskQueue, deployRequest(app, sha));
    await waitForStatus(client, workflowId, 'the deploy stage running', (s) => isStageRunning(s, 'deploy'));
    const rollingOut = await waitUntil('the new release rolling out in the simulator', async () => {
      const [newest] = await releasesOf(world.sim, app);
      return newest && newest.ImageRef !== app.initialImage && newest.Status === 'running' ? newest : undefined;
    });

    await firstWorker.stop('kill');
    expect((await releasesOf(world.sim, app))[0]).toMatchObject({ Version: rollingOut.Version, Status: 'running' });
    await startWorkerProcess(taskQueue);

    const { status } = await settle(client, workflowId);
    expect(status.state).toBe('succeeded');
    const image = rollingOut.ImageRef;
    expect(status.facts.image).toBe(image);
    expect(world.sim.deployCount(image)).toBe(1);
    expect(rolloutsOf(world.sim, app)).toHaveLength(1);
    expect(await machineImages(world.sim, app)).toEqual([image, image]);
    expect(await world.servedBody(app)).toContain('v2');
    expect(await deployAttempts(workflowId)).toBeGreaterThanOrEqual(2);
  }, 180_000);
});

/** The attempt that completed the pipeline's flyDeployImage activity (history records the last one). */
async function deployAttempts(workflowId: string): Promise<number> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const events = history.events ?? [];
  const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'flyDeployImage');
  const started = events.find((e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId) === String(scheduled?.eventId));
  return started?.activityTaskStartedEventAttributes?.attempt ?? 0;
}
