// Task queues by kind of work (worker/taskQueues.ts): with FLIGHTDECK_DEPLOY_TASK_QUEUE set, builds and
// rollouts run on the deploy queue's worker, with slots of their own, and the rest stays on the
// workflow's queue.
import { Context } from '@temporalio/activity';
import { describe, expect, it } from 'vitest';
import { requestDeploy } from '../../lib/operations.js';
import { useDeployWorld } from '../helpers/deployWorld.js';
import { useWorkflowTestKit } from '../helpers/temporal.js';
import { FLIGHTDECK_WORKFLOWS } from '../helpers/workflowBundles.js';
import { deployRequest, rolloutsOf, settle } from './support.js';

const kit = useWorkflowTestKit(FLIGHTDECK_WORKFLOWS);
const world = useDeployWorld(kit);

describe('task queues by kind of work', () => {
  it('runs the build and the rollout on the deploy queue, and the deploy succeeds', async () => {
    const app = await world.createApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    const deployQueue = kit.uniqueId('deploys');
    const activities = world.activities({}, { FLIGHTDECK_DEPLOY_TASK_QUEUE: deployQueue });
    const ranOn: Array<[string, string]> = [];
    const recorded = Object.fromEntries(Object.entries(activities).map(([name, fn]) => [name, (...args: unknown[]) => {
      ranOn.push([name, Context.current().info.taskQueue]);
      return (fn as (...a: unknown[]) => unknown)(...args);
    }]));
    // The workflow's own worker cannot build or roll out: only the deploy queue's worker can.
    const { flyBuildImage, flyDeployImage, ...rest } = recorded;
    const deployWorker = await kit.createWorker(deployQueue, { flyBuildImage, flyDeployImage }, { maxConcurrentActivityTaskExecutions: 1 });

    const { status } = await deployWorker.runUntil(kit.withWorker(rest, async (taskQueue) => {
      const { workflowId } = await requestDeploy(kit.client, taskQueue, deployRequest(app, sha));
      return settle(kit.client, workflowId);
    }));

    expect(status.state).toBe('succeeded');
    expect(ranOn.filter(([, queue]) => queue === deployQueue).map(([name]) => name)).toEqual(['flyBuildImage', 'flyDeployImage']);
    expect(ranOn.some(([name, queue]) => name === 'verifyAppHealth' && queue !== deployQueue)).toBe(true);
    expect(rolloutsOf(world.sim, app)).toHaveLength(1);
    expect((await world.servedBody(app)).trim()).toBe(`${app.name} v2`);
  });
});
