// A run's state as a search attribute (FlightdeckState): the real pipeline, on a real worker, upserts it as
// it changes, so a listing by state finds the deploys waiting for approval without asking each run.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { decideApproval, requestDeploy } from '../../lib/operations.js';
import { listRuns } from '../../lib/runHistory.js';
import { useFlightdeckCli } from '../cli/runFlightdeck.js';
import { useDeployWorld } from '../helpers/deployWorld.js';
import { useWorkflowTestKit } from '../helpers/temporal.js';
import { deployRequest, waitUntil } from '../deploy/support.js';

const kit = useWorkflowTestKit(fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)));
const world = useDeployWorld();
const cli = useFlightdeckCli(() => ({ apps: world.apps }));
const APPROVER = 'UAPPROVER';

let taskQueue: string;
let stopWorker: () => Promise<void>;

beforeAll(async () => {
  taskQueue = kit.uniqueId('run-state');
  const worker = await kit.createWorker(taskQueue, world.activities({ temporalClient: kit.client }));
  const running = worker.run();
  stopWorker = async () => { worker.shutdown(); await running; };
});
afterAll(async () => {
  await stopWorker?.();
});

it('lists a deploy as waiting for approval while it waits, and as succeeded once approved and deployed', async () => {
  const app = await world.createApp({ environment: { approval: { required: true, approvers: [APPROVER] } } });
  const sha = app.repo.commit({ behaviour: { version: 'v2' } });
  const { workflowId } = await requestDeploy(kit.client, taskQueue, deployRequest(app, sha));
  const address = { app: app.name, environment: 'staging' };

  const waiting = await waitUntil('the deploy to be listed as waiting for approval', async () =>
    (await listRuns(kit.client, { ...address, state: 'waiting-for-approval' })).find((run) => run.workflowId === workflowId));
  expect(waiting).toMatchObject({ kind: 'deploy', app: app.name, environment: 'staging', status: 'RUNNING' });
  const listed = await cli.run(['history', app.name, 'staging', '--state', 'waiting-for-approval', '--json'], { taskQueue });
  expect(JSON.parse(listed.stdout).runs).toEqual([expect.objectContaining({ workflowId, state: 'waiting-for-approval' })]);

  await decideApproval(kit.client, workflowId, { isApproved: true, actor: APPROVER });
  const done = await waitUntil('the deploy to be listed as succeeded', async () =>
    (await listRuns(kit.client, { ...address, state: 'succeeded' })).find((run) => run.workflowId === workflowId), 120_000);
  // The state changes before the run closes (its last Slack update comes after).
  expect(done).toMatchObject({ kind: 'deploy', state: 'succeeded' });
  expect(await listRuns(kit.client, { ...address, state: 'waiting-for-approval' })).toEqual([]);
});
