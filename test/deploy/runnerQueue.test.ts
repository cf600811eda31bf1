// With FLIGHTDECK_RUNNER_TASK_QUEUE set, checkouts, tests and the smoke command go to the runner
// queue, served by a worker that holds no Fly, Slack, database or storage secret.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createRunnerActivities } from '../../activities/index.js';
import { loadEnvConfig, parseAppsConfig } from '../../lib/config.js';
import { createLogger } from '../../lib/log.js';
import { requestDeploy } from '../../lib/operations.js';
import { useDeployWorld } from '../helpers/deployWorld.js';
import { useWorkflowTestKit } from '../helpers/temporal.js';
import { deployRequest, settle } from './support.js';

const kit = useWorkflowTestKit(fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)));
const world = useDeployWorld(kit);

describe('the runner queue', () => {
  it('runs the checkout, the tests and the smoke command on a secretless runner, and the deploy succeeds', async () => {
    const app = await world.createApp({ app: { smokeCommand: ['node', 'test.js'] } });
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    const runnerQueue = kit.uniqueId('runner');
    const workerActivities: Record<string, unknown> = { ...world.activities({}, { FLIGHTDECK_RUNNER_TASK_QUEUE: runnerQueue }) };
    // The worker itself cannot check out or run repository commands: only the runner can.
    delete workerActivities.checkoutCommit;
    delete workerActivities.checkoutAndTest;
    delete workerActivities.runWorkspaceCommand;
    const calls: string[] = [];
    // The runner's whole environment: no Fly token, no Slack token, no database URL.
    const runnerEnv = loadEnvConfig({ FLIGHTDECK_WORK_DIR: world.workDir });
    const runnerActivities = Object.fromEntries(Object.entries(createRunnerActivities({ env: runnerEnv, logger: createLogger({ level: 'silent' }), loadAppsConfig: () => parseAppsConfig({ apps: world.apps }) }))
      .map(([name, fn]) => [name, (...args: unknown[]) => { calls.push(name); return (fn as (...a: unknown[]) => unknown)(...args); }]));
    expect(runnerEnv.flyToken).toBeUndefined();
    const runner = await kit.createWorker(runnerQueue, runnerActivities);

    const { status } = await runner.runUntil(kit.withWorker(workerActivities, async (taskQueue) => {
      const { workflowId } = await requestDeploy(kit.client, taskQueue, deployRequest(app, sha));
      return settle(kit.client, workflowId);
    }));

    expect(status.state).toBe('succeeded');
    // The checkout and the tests are one activity (patch one-trip-stages); the smoke command another.
    expect(calls).toEqual(['checkoutAndTest', 'runWorkspaceCommand']);
  });
});
