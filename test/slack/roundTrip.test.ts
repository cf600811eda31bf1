// Slash commands and buttons end to end: the Slack routes, a real worker on the Temporal dev server,
// the Fly simulator, and the Slack stand-in receiving both the run messages and response_url answers.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAppsConfig } from '../../lib/config.js';
import { deployQueueStatus } from '../../lib/deployLocks.js';
import type { RunStatus } from '../../lib/messages.js';
import { requestDeploy } from '../../lib/operations.js';
import { SLACK_ACTIONS } from '../../lib/runReport.js';
import { useDeployWorld } from '../helpers/deployWorld.js';
import { useWorkflowTestKit } from '../helpers/temporal.js';
import { deployRequest, settle, waitForStatus } from '../deploy/support.js';
import { nthResponse, pressButton, slashCommand, startSlackServer, type SlackServer } from './helpers/slackServer.js';

const kit = useWorkflowTestKit(fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)));
const world = useDeployWorld(kit);

let server: SlackServer;
let taskQueue: string;
let stopWorker: () => Promise<void>;

beforeAll(async () => {
  taskQueue = kit.uniqueId('slack');
  const worker = await kit.createWorker(taskQueue, world.activities({ temporalClient: kit.client }));
  const running = worker.run();
  stopWorker = async () => { worker.shutdown(); await running; };
  server = await startSlackServer({ client: kit.client, taskQueue, slackApiUrl: world.slack.apiUrl, loadApps: () => parseAppsConfig({ apps: world.apps, slack: { allowedChannels: ['CDEPLOYS'] } }) });
});
afterAll(async () => {
  await server?.close();
  await stopWorker?.();
});

/** The run id a "started …: `id`." answer names. */
function startedRunId(answer: Record<string, unknown>): string {
  const match = /`([^`]+)`/.exec(String(answer.text));
  if (!match) throw new Error(`no run id in "${String(answer.text)}"`);
  return match[1]!;
}

async function command(text: string, user: string): Promise<Record<string, unknown>> {
  const { ack, responseUrl } = await slashCommand(server, world.slack, text, user);
  expect(ack.statusCode).toBe(200);
  expect(ack.json()).toMatchObject({ response_type: 'ephemeral', text: expect.stringContaining(`Working on \`/flightdeck ${text}\``) });
  return nthResponse(world.slack, responseUrl);
}

describe('Slack round trip', () => {
  it('deploys, reports status, rolls back and locks, as the person in Slack sees it', async () => {
    const app = await world.createApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });

    const deployed = await command(`deploy ${app.name} staging ${sha}`, 'UALICE1');
    expect(deployed).toMatchObject({ response_type: 'in_channel', text: expect.stringMatching(new RegExp(`^:rocket: <@UALICE1> started a deploy of ${app.name} to staging \\(${sha}\\): \`deploy/${app.name}/staging/`)) });
    const deployId = startedRunId(deployed);
    expect((await settle(kit.client, deployId)).status.state).toBe('succeeded');
    expect((await world.servedBody(app)).trim()).toBe(`${app.name} v2`);
    const runMessage = world.slack.messages.find((m) => m.text.includes(`deploy ${app.name} / staging`) && !m.threadTs);
    expect(runMessage?.text).toMatch(/succeeded/);
    expect(runMessage?.text).toContain('by UALICE1 via slack');

    const status = await command(`status ${app.name}`, 'UBOB1');
    expect(status.response_type).toBe('ephemeral');
    expect(status.text).toContain(`*${app.name} / staging*`);
    expect(status.text).toContain(':unlock: deploys are not locked');
    expect(status.text).toContain(deployId);

    const rolledBack = await command(`rollback ${app.name}`, 'UBOB1');
    expect(rolledBack.text).toMatch(new RegExp(`^:rewind: <@UBOB1> started a rollback of ${app.name} staging to the last good release: \`rollback/${app.name}/staging/`));
    expect((await settle(kit.client, startedRunId(rolledBack))).status.state).toBe('succeeded');
    expect((await world.servedBody(app)).trim()).toBe(`${app.name} v1`);

    const afterRollback = await command(`status ${app.name} staging`, 'UBOB1');
    expect(afterRollback.text).toMatch(/:lock: locked by <@UBOB1> since .*, until someone unlocks: rolled back \(requested in Slack by UBOB1\)/);

    const refused = await command(`deploy ${app.name} staging ${sha}`, 'UALICE1');
    expect(refused.text).toMatch(new RegExp(`^:no_entry: Deploys of ${app.name} to staging are locked by UBOB1 .* /flightdeck unlock ${app.name} staging`));

    const unlocked = await command(`unlock ${app.name} staging`, 'UBOB1');
    expect(unlocked.text).toContain(`:unlock: <@UBOB1> unlocked deploys of ${app.name}/staging`);
    const redeployed = await command(`deploy ${app.name} staging ${sha}`, 'UALICE1');
    expect((await settle(kit.client, startedRunId(redeployed))).status.state).toBe('succeeded');
    expect((await world.servedBody(app)).trim()).toBe(`${app.name} v2`);
  });

  it('refuses a command from someone not allowed, audit-logs it, and starts nothing', async () => {
    const app = await world.createApp({ environment: { permissions: { deploy: ['UDEPLOYER'] } } });
    const deploysBefore = world.sim.callCount('deploy');
    const answer = await command(`deploy ${app.name}`, 'UMALLORY');
    expect(answer).toEqual({ response_type: 'ephemeral', text: `:no_entry: UMALLORY may not deploy ${app.name}/staging; allowed: UDEPLOYER` });
    expect(server.auditLines()).toContainEqual(expect.objectContaining({ actor: 'UMALLORY', action: 'deploy', target: `${app.name}/staging`, outcome: 'refused', source: 'slack' }));
    expect(world.sim.callCount('deploy')).toBe(deploysBefore);
    expect(await deployQueueStatus(kit.client, { app: app.name, environment: 'staging' })).toBeUndefined();
  });

  it('refuses commands from a channel outside the allowlist, at once, and audit-logs it', async () => {
    const app = await world.createApp();
    const { ack } = await slashCommand(server, world.slack, `deploy ${app.name}`, 'UALICE1', 'CRANDOM');
    expect(ack.json()).toEqual({ response_type: 'ephemeral', text: ':no_entry: Flightdeck does not take commands in this channel (CRANDOM); use one of: CDEPLOYS' });
    expect(server.auditLines()).toContainEqual(expect.objectContaining({ actor: 'UALICE1', action: 'deploy', outcome: 'refused', source: 'slack' }));
    expect(await deployQueueStatus(kit.client, { app: app.name, environment: 'staging' })).toBeUndefined();
  });

  it('rolls back a paused failed deploy on the Roll back button of someone allowed to roll back', async () => {
    const app = await world.createApp({ environment: { onFailure: 'pause', pauseTimeout: '2m', permissions: { rollback: ['UONCALL'] } } });
    const { workflowId } = await requestDeploy(kit.client, taskQueue, deployRequest(app, app.repo.commit({ behaviour: { version: 'v2', health: 'fail' } })));
    await waitForStatus(kit.client, workflowId, 'waiting for a decision', (s) => s.state === 'waiting-for-decision');

    const refused = await pressButton(server, world.slack, SLACK_ACTIONS.keep, workflowId, 'UMALLORY');
    expect((await nthResponse(world.slack, refused.responseUrl)).text).toBe(`:no_entry: UMALLORY may not rollback ${app.name}/staging; allowed: UONCALL`);

    const chosen = await pressButton(server, world.slack, SLACK_ACTIONS.rollback, workflowId, 'UONCALL');
    const replaced = await nthResponse(world.slack, chosen.responseUrl);
    expect(replaced.replace_original).toBe(true);
    expect((replaced.blocks as Array<{ type: string }>).some((b) => b.type === 'actions')).toBe(false);
    const { status } = await settle(kit.client, workflowId);
    expect(status.state).toBe('rolled-back');
    expect(status.facts['rollback decided by']).toBe('UONCALL');
    expect((await world.servedBody(app)).trim()).toBe(`${app.name} v1`);
  });

  describe('approval buttons', () => {
    async function deployWaitingForApproval(): Promise<{ workflowId: string; appName: string }> {
      const app = await world.createApp({ environment: { approval: { required: true, approvers: ['UAPPROVER'], timeout: '2m' } } });
      const { workflowId } = await requestDeploy(kit.client, taskQueue, deployRequest(app, app.repo.commit({ behaviour: { version: 'v2' } })));
      await waitForStatus(kit.client, workflowId, 'waiting for approval', (s: RunStatus) => s.state === 'waiting-for-approval');
      return { workflowId, appName: app.name };
    }

    it("refuses a non-approver's press, only to them, and audit-logs the refusal", async () => {
      const { workflowId, appName } = await deployWaitingForApproval();
      const { ack, responseUrl } = await pressButton(server, world.slack, SLACK_ACTIONS.approve, workflowId, 'UMALLORY');
      expect(ack.statusCode).toBe(200);
      expect(await nthResponse(world.slack, responseUrl)).toEqual({
        response_type: 'ephemeral', replace_original: false, text: `:no_entry: UMALLORY may not approve ${appName}/staging; allowed: UAPPROVER`,
      });
      expect(server.auditLines()).toContainEqual(expect.objectContaining({ actor: 'UMALLORY', action: 'approve', target: workflowId, outcome: 'refused' }));
      const status = await waitForStatus(kit.client, workflowId, 'still waiting', (s) => s.state === 'waiting-for-approval');
      expect(status.facts['approved by']).toBeUndefined();
    });

    it('approves on an approver\'s press, replaces the message without buttons, and ignores a second press', async () => {
      const { workflowId } = await deployWaitingForApproval();
      const first = await pressButton(server, world.slack, SLACK_ACTIONS.approve, workflowId, 'UAPPROVER');
      const replaced = await nthResponse(world.slack, first.responseUrl);
      expect(replaced.replace_original).toBe(true);
      const blocks = replaced.blocks as Array<{ type: string; elements?: Array<{ text?: string }> }>;
      expect(blocks.some((b) => b.type === 'actions')).toBe(false);
      expect(blocks.at(-1)?.elements?.[0]?.text).toBe('Approved by <@UAPPROVER>');

      const second = await pressButton(server, world.slack, SLACK_ACTIONS.approve, workflowId, 'UAPPROVER');
      expect(await nthResponse(world.slack, second.responseUrl)).toMatchObject({
        response_type: 'ephemeral', replace_original: false, text: expect.stringMatching(/^:no_entry: Nothing changed: this deploy is not waiting for approval/),
      });
      const { status } = await settle(kit.client, workflowId);
      expect(status.state).toBe('succeeded');
      expect(status.facts['approved by']).toBe('UAPPROVER');
    });
  });
});
