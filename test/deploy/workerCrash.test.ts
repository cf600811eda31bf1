import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { requestDeploy } from '../../lib/operations.js';
import { isProcessRunning } from '../../sim/testing.js';
import { FLY_TOKEN, SLACK_TOKEN, useDeployWorld } from '../helpers/deployWorld.js';
import { deployRequest, isStageRunning, machineImages, releasesOf, rolloutsOf, settle, waitForStatus, waitUntil } from './support.js';

// The worker runs in separate processes here, so this file talks to the server as a plain client
// and builds the workflow bundle once for every worker process it starts.
const world = useDeployWorld();
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'flightdeck-crash-'));
const bundlePath = path.join(scratch, 'workflows.js');
const workers: ChildProcess[] = [];
let client: Client;
let connection: Connection;

beforeAll(async () => {
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new Client({ connection, namespace: inject('temporalNamespace') });
  const { code } = await bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)), logger: new DefaultLogger('WARN') });
  fs.writeFileSync(bundlePath, code);
});
afterAll(async () => {
  for (const worker of workers) worker.kill('SIGKILL');
  await connection?.close();
  fs.rmSync(scratch, { recursive: true, force: true });
});

/** Starts `test/deploy/fixtures/worker.ts` in its own process and resolves once it polls. */
async function startWorkerProcess(taskQueue: string): Promise<ChildProcess> {
  const configPath = path.join(scratch, 'flightdeck.yaml');
  fs.writeFileSync(configPath, JSON.stringify({ apps: world.apps }));
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./fixtures/worker.ts', import.meta.url))], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_NAMESPACE: inject('temporalNamespace'), TEMPORAL_TASK_QUEUE: taskQueue,
      WORKFLOW_BUNDLE_PATH: bundlePath, FLIGHTDECK_CONFIG: configPath, FLIGHTDECK_WORK_DIR: path.join(scratch, 'work'),
      FLYCTL_PATH: world.sim.flyctlPath, FLY_SIM_DIR: world.sim.dir, FLY_API_TOKEN: FLY_TOKEN,
      SLACK_BOT_TOKEN: SLACK_TOKEN, SLACK_API_URL: world.slack.apiUrl, LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  workers.push(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  await waitUntil('the worker process to start polling', () => {
    if (child.exitCode !== null) throw new Error(`the worker process exited with ${child.exitCode}: ${output.slice(-2000)}`);
    return output.includes('worker ready');
  });
  return child;
}

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

    firstWorker.kill('SIGKILL');
    await waitUntil('the first worker to be gone', () => firstWorker.pid !== undefined && !isProcessRunning(firstWorker.pid));
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
