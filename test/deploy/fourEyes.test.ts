// Four-eyes: whoever requested a deploy that needs approval cannot approve it, in Slack or anywhere
// else, and the CLI decides only as the operator's OS user (cli:<user>), never as a typed --actor.
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAppsConfig } from '../../lib/config.js';
import { cancelRun, decideApproval, requestDeploy } from '../../lib/operations.js';
import { SLACK_ACTIONS } from '../../lib/runReport.js';
import { useFlightdeckCli } from '../cli/runFlightdeck.js';
import { useDeployWorld, type TestApp } from '../helpers/deployWorld.js';
import { useWorkflowTestKit } from '../helpers/temporal.js';
import { nthResponse, pressButton, startSlackServer, type SlackServer } from '../slack/helpers/slackServer.js';
import { deployRequest, rolloutsOf, settle, waitForStatus } from './support.js';

const kit = useWorkflowTestKit(fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)));
const world = useDeployWorld();
const cli = useFlightdeckCli(() => ({ apps: world.apps }));
const OPERATOR = `cli:${os.userInfo().username}`;

let server: SlackServer;
let taskQueue: string;
let stopWorker: () => Promise<void>;

beforeAll(async () => {
  taskQueue = kit.uniqueId('four-eyes');
  const worker = await kit.createWorker(taskQueue, world.activities({ temporalClient: kit.client }));
  const running = worker.run();
  stopWorker = async () => { worker.shutdown(); await running; };
  server = await startSlackServer({ client: kit.client, taskQueue, slackApiUrl: world.slack.apiUrl, loadApps: () => parseAppsConfig({ apps: world.apps }) });
});
afterAll(async () => {
  await server?.close();
  await stopWorker?.();
});

/** A deploy UBOSS asked for in Slack, now waiting for approval by UBOSS, UOTHER or the operator. */
async function deployWaitingForApproval(): Promise<{ app: TestApp; workflowId: string }> {
  const app = await world.createApp({ environment: { approval: { required: true, approvers: ['UBOSS', 'UOTHER', OPERATOR] } } });
  const sha = app.repo.commit({ behaviour: { version: 'v2' } });
  const { workflowId } = await requestDeploy(kit.client, taskQueue, { ...deployRequest(app, sha), trigger: { source: 'slack', actor: 'UBOSS', identity: 'UBOSS' } });
  await waitForStatus(kit.client, workflowId, 'waiting for approval', (s) => s.state === 'waiting-for-approval');
  return { app, workflowId };
}

describe('four-eyes approvals', { timeout: 180_000 }, () => {
  it("refuses the requester's own approval, in Slack (audit-logged) and at the run itself, and deploys nothing", async () => {
    const { app, workflowId } = await deployWaitingForApproval();

    const { responseUrl } = await pressButton(server, world.slack, SLACK_ACTIONS.approve, workflowId, 'UBOSS');
    expect(await nthResponse(world.slack, responseUrl)).toMatchObject({ replace_original: false, text: ':no_entry: UBOSS requested this deploy and cannot approve it too: another approver must (four-eyes)' });
    expect(server.auditLines()).toContainEqual(expect.objectContaining({ actor: 'UBOSS', action: 'approve', target: workflowId, outcome: 'refused', source: 'slack' }));
    // Past the API, the run's own validator refuses too.
    await expect(decideApproval(kit.client, workflowId, { isApproved: true, actor: 'UBOSS' })).rejects.toThrow(/UBOSS requested this deploy and cannot approve it too/);

    await cancelRun(kit.client, workflowId, { actor: 'test', reason: 'end of test' });
    const { status } = await settle(kit.client, workflowId);
    expect(status.facts['approved by']).toBeUndefined();
    expect(rolloutsOf(world.sim, app)).toHaveLength(0);
  });

  it('records a CLI decision as the operator\'s OS user, and refuses a typed --actor', async () => {
    const { app, workflowId } = await deployWaitingForApproval();

    const impersonation = await cli.run(['approve', workflowId, '--actor', 'UOTHER'], { taskQueue });
    expect(impersonation.exitCode).toBe(2);
    expect(impersonation.stderr).toContain('--actor is not accepted for decisions');

    const rejected = await cli.run(['reject', workflowId, '--comment', 'not today'], { taskQueue });
    expect(rejected.exitCode).toBe(0);
    const { status } = await settle(kit.client, workflowId);
    expect(status).toMatchObject({ state: 'failed', facts: { 'rejected by': OPERATOR } });
    expect(rolloutsOf(world.sim, app)).toHaveLength(0);
  });
});
