import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { queueStatusQuery } from '../../lib/messages.js';
import { deployQueueId } from '../../lib/operations.js';
import { useDeployWorld, type TestApp } from '../helpers/deployWorld.js';
import { useWorkflowTestKit } from '../helpers/temporal.js';
import { pipelineRequest, rolloutsOf, waitUntil } from '../deploy/support.js';
import { buildTestServer, expectNoDeployStarted, GITHUB_PREVIOUS_SECRET, gitHubSignature, useApiWithWorker } from './apiHarness.js';
import { lockDeploys } from '../../lib/deployLocks.js';
import { parseAppsConfig } from '../../lib/config.js';

const kit = useWorkflowTestKit(fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)));
const world = useDeployWorld(kit);
const harness = useApiWithWorker(kit, world);

interface GitHubApp extends TestApp { repository: string }

/** An app deployed from a GitHub repository: pushes to main deploy to staging. */
async function createGitHubApp(github: { workflow?: string } = {}, environment: Record<string, unknown> = {}): Promise<GitHubApp> {
  const repository = `acme/${kit.uniqueId('shop')}`;
  const app = await world.createApp({ app: { github: { repository, ...github } }, environment: { branch: 'main', ...environment } });
  return { ...app, repository };
}

function deliver(event: string, payload: unknown, options: { delivery?: string; signature?: string | null; body?: string } = {}) {
  const body = options.body ?? JSON.stringify(payload);
  const signature = options.signature === undefined ? gitHubSignature(body) : options.signature;
  return harness.api.server.inject({
    method: 'POST', url: '/webhooks/github', payload: body,
    headers: {
      'content-type': 'application/json', 'x-github-event': event, 'x-github-delivery': options.delivery ?? kit.uniqueId('delivery'),
      'x-github-hook-id': '4242', ...(signature === null ? {} : { 'x-hub-signature-256': signature }),
    },
  });
}

const push = (app: GitHubApp, after: string, extra: object = {}) => ({
  ref: 'refs/heads/main', after, deleted: false, repository: { full_name: app.repository }, sender: { login: 'octocat' }, ...extra,
});

// Each test its own app (and repository): side by side, up to the config's maxConcurrency.
describe.concurrent('POST /webhooks/github', () => {
  it('deploys a pushed commit to the environment that follows the branch', async () => {
    const app = await createGitHubApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    const response = await deliver('push', push(app, sha), { delivery: 'd-1' });
    expect(response.statusCode).toBe(202);
    const { workflowId, disposition } = response.json();
    expect(disposition).toBe('accepted');
    expect(workflowId).toMatch(new RegExp(`^deploy/${app.name}/staging/`));
    const status = await harness.waitForRun(workflowId);
    expect(status.state).toBe('succeeded');
    expect(status.trigger).toEqual({ source: 'github', actor: 'github:octocat', deliveryId: expect.stringMatching(/^push-[0-9a-f]{24}$/) });
    expect((await pipelineRequest(kit.client, workflowId)).github).toEqual({});
    expect(await world.servedBody(app)).toContain('v2');
  });

  it('answers a re-delivered push with the run the first delivery started, and starts nothing more', async () => {
    const app = await createGitHubApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    const first = (await deliver('push', push(app, sha), { delivery: 'same' })).json();
    const second = await deliver('push', push(app, sha), { delivery: 'same' });
    expect(second.statusCode).toBe(202);
    expect(second.json()).toMatchObject({ workflowId: first.workflowId, disposition: 'accepted' });
    expect((await harness.waitForRun(first.workflowId)).state).toBe('succeeded');
    const queue = await kit.client.workflow.getHandle(deployQueueId(app.name, 'staging')).query(queueStatusQuery);
    expect(queue.waiting).toBeUndefined();
    expect(queue.superseded).toEqual([]);
    expect(rolloutsOf(world.sim, app)).toHaveLength(1);
  });

  it('refuses to deploy a re-delivery again after the deploy queue has ended and forgotten it', async () => {
    const app = await createGitHubApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    const first = (await deliver('push', push(app, sha), { delivery: 'old' })).json();
    expect((await harness.waitForRun(first.workflowId)).state).toBe('succeeded');
    const deploysOfApp = () => world.sim.callLog().filter((c) => c.command === 'deploy' && c.argv.includes(app.name)).length;
    const deploysBefore = deploysOfApp();
    // An idle queue ends after an hour and its memory of deliveries with it.
    await kit.client.workflow.getHandle(deployQueueId(app.name, 'staging')).terminate('test: the queue went idle');

    const redelivered = await deliver('push', push(app, sha), { delivery: 'old' });
    expect(redelivered.statusCode).toBe(202);
    expect(redelivered.json()).toMatchObject({ workflowId: first.workflowId, disposition: 'accepted' });
    // The new queue tries to start the delivery's pipeline, is refused (it exists), and moves on.
    await waitUntil('the new queue to find the run exists', async () => {
      const queue = await kit.client.workflow.getHandle(deployQueueId(app.name, 'staging')).query(queueStatusQuery);
      return queue.running === undefined && queue.waiting === undefined;
    });
    expect(deploysOfApp()).toBe(deploysBefore);
    expect((await harness.waitForRun(first.workflowId)).state).toBe('succeeded');
  });

  it('accepts a push to a locked environment, and its run says who locked it and why; nothing deploys', async () => {
    const app = await createGitHubApp();
    await lockDeploys(kit.client, harness.api.deps.taskQueue, { app: app.name, environment: 'staging', owner: 'U_ALICE', reason: 'db maintenance' });
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    const response = await deliver('push', push(app, sha));
    expect(response.statusCode).toBe(202);
    const status = await harness.waitForRun(response.json().workflowId);
    expect(status.state).toBe('refused');
    expect(status.outcome).toContain('locked by U_ALICE');
    expect(status.outcome).toContain('db maintenance');
    expect(rolloutsOf(world.sim, app)).toHaveLength(0);
  });

  it('accepts pushes while no worker runs, and deploys them once a worker starts', async () => {
    const taskQueue = kit.uniqueId('no-worker-yet');
    const api = await buildTestServer({ client: kit.client, taskQueue, apps: () => parseAppsConfig({ apps: world.apps }) });
    const app = await createGitHubApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    const body = JSON.stringify(push(app, sha));
    const response = await api.server.inject({
      method: 'POST', url: '/webhooks/github', payload: body,
      headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': 'while-down', 'x-hub-signature-256': gitHubSignature(body) },
    });
    expect(response.statusCode).toBe(202);
    expect(response.json().disposition).toBe('accepted');
    expect(rolloutsOf(world.sim, app)).toHaveLength(0);

    const worker = await kit.createWorker(taskQueue, world.activities());
    const result = await worker.runUntil(async () => {
      await waitUntil('the accepted push to start', () => kit.client.workflow.getHandle(response.json().workflowId).describe());
      return kit.client.workflow.getHandle(response.json().workflowId).result();
    });
    expect(result).toBeDefined();
    expect(await world.servedBody(app)).toContain('v2');
    expect(rolloutsOf(world.sim, app)).toHaveLength(1);
  });

  it('refuses forged, unsigned and wrongly prefixed deliveries, counts them, and starts nothing', async () => {
    const app = await createGitHubApp();
    const payload = push(app, 'a'.repeat(40));
    const body = JSON.stringify(payload);
    const refusals = await Promise.all([
      deliver('push', payload, { signature: gitHubSignature(body, 'not-the-secret') }),
      deliver('push', payload, { signature: null }),
      deliver('push', payload, { signature: gitHubSignature(body).replace('sha256=', 'sha1=') }),
      deliver('push', payload, { body: body.replace('main', 'evil'), signature: gitHubSignature(body) }),
    ]);
    for (const response of refusals) {
      expect(response.statusCode).toBe(401);
      expect(response.json()).toEqual({ error: 'unauthorized', message: expect.stringContaining('X-Hub-Signature-256') });
    }
    await expectNoDeployStarted(kit.client, app.name, 'staging');
    const metrics = await harness.api.server.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/flightdeck_signature_failures_total\{source="github"\} [4-9]/);
  });

  it('accepts a ping signed with the previous secret while the secret is rotated', async () => {
    const body = JSON.stringify({ zen: 'Design for failure.', hook_id: 4242 });
    const response = await deliver('ping', undefined, { body, signature: gitHubSignature(body, GITHUB_PREVIOUS_SECRET) });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ disposition: 'pong', zen: 'Design for failure.' });
  });

  it('skips a branch deletion', async () => {
    const app = await createGitHubApp();
    const response = await deliver('push', push(app, '0'.repeat(40), { deleted: true }));
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ disposition: 'ignored', reason: 'refs/heads/main was deleted' });
    await expectNoDeployStarted(kit.client, app.name, 'staging');
  });

  it('ignores pushes to a branch no environment follows and repositories with no app', async () => {
    const app = await createGitHubApp();
    const toFeature = await deliver('push', push(app, 'b'.repeat(40), { ref: 'refs/heads/feature' }));
    expect(toFeature.json()).toEqual({ disposition: 'ignored', reason: 'no environment deploys branch "feature"' });
    const otherRepository = await deliver('push', push({ ...app, repository: 'someone/else' }, 'b'.repeat(40)));
    expect(otherRepository.json().reason).toBe('no app is configured for repository someone/else (apps[].github.repository)');
    await expectNoDeployStarted(kit.client, app.name, 'staging');
  });

  it('waits for the configured CI workflow to succeed instead of deploying the bare push', async () => {
    const app = await createGitHubApp({ workflow: 'ci.yml' });
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    const workflowRun = (conclusion: string, trigger = { event: 'push', headRepository: app.repository }) => ({
      action: 'completed', repository: { full_name: app.repository }, sender: { login: 'octocat' },
      workflow_run: {
        name: 'CI', path: '.github/workflows/ci.yml', conclusion, head_branch: 'main', head_sha: sha,
        event: trigger.event, head_repository: { full_name: trigger.headRepository },
      },
    });
    expect((await deliver('push', push(app, sha))).json().disposition).toBe('ignored');
    expect((await deliver('workflow_run', workflowRun('failure'))).json()).toEqual({ disposition: 'ignored', reason: 'workflow run concluded failure, not success' });
    // A fork's pull request can name its branch "main" and make its own CI succeed: never a deploy.
    expect((await deliver('workflow_run', workflowRun('success', { event: 'pull_request', headRepository: 'mallory/fork' }))).json())
      .toEqual({ disposition: 'ignored', reason: 'workflow run triggered by pull_request; only push or workflow_dispatch runs deploy' });
    expect((await deliver('workflow_run', workflowRun('success', { event: 'push', headRepository: 'mallory/fork' }))).json())
      .toEqual({ disposition: 'ignored', reason: `the workflow run built mallory/fork, not ${app.repository}` });
    await expectNoDeployStarted(kit.client, app.name, 'staging');
    const accepted = await deliver('workflow_run', workflowRun('success'));
    expect(accepted.statusCode).toBe(202);
    expect(accepted.json().disposition).toBe('accepted');
    expect((await harness.waitForRun(accepted.json().workflowId)).state).toBe('succeeded');
  });

  it('deploys nothing new when a captured push is re-sent under a new delivery id', async () => {
    const app = await createGitHubApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    const first = (await deliver('push', push(app, sha), { delivery: 'original' })).json();
    const replayed = await deliver('push', push(app, sha), { delivery: 'forged-new-id' });
    expect(replayed.statusCode).toBe(202);
    expect(replayed.json()).toMatchObject({ workflowId: first.workflowId, disposition: 'accepted' });
    await harness.waitForRun(first.workflowId);
    expect(rolloutsOf(world.sim, app)).toHaveLength(1);
  });

  it('deploys a GitHub deployment to an environment that opts in, from its branch', async () => {
    const app = await createGitHubApp({}, { deploymentEvents: true });
    const sha = app.repo.commit({ behaviour: { version: 'v3' } });
    const response = await deliver('deployment', {
      action: 'created', deployment: { id: 1, sha, ref: 'main', environment: 'staging' }, repository: { full_name: app.repository }, sender: { login: 'hubot' },
    });
    expect(response.statusCode).toBe(202);
    const status = await harness.waitForRun(response.json().workflowId);
    expect(status.trigger.actor).toBe('github:hubot');
    // Its statuses go to the deployment GitHub made.
    expect((await pipelineRequest(kit.client, status.workflowId)).github).toEqual({ deploymentId: 1 });
    expect(await world.servedBody(app)).toContain('v3');
  });

  it('ignores a deployment event for an environment that has not opted in, from another branch, or named "constructor"', async () => {
    const closed = await createGitHubApp();
    const open = await createGitHubApp({}, { deploymentEvents: true });
    const deployment = (app: GitHubApp, ref: string, environment: string) => deliver('deployment', {
      action: 'created', deployment: { id: 7, sha: 'd'.repeat(40), ref, environment }, repository: { full_name: app.repository }, sender: { login: 'mallory' },
    });
    expect((await deployment(closed, 'main', 'staging')).json()).toEqual({ disposition: 'ignored', reason: `${closed.name}/staging does not take GitHub deployment events (deploymentEvents: true)` });
    expect((await deployment(open, 'evil-branch', 'staging')).json()).toEqual({ disposition: 'ignored', reason: `${open.name}/staging deploys only branch main, not evil-branch` });
    expect((await deployment(open, 'main', 'constructor')).json()).toMatchObject({ disposition: 'ignored', reason: expect.stringContaining('has an environment "constructor"') });
    await expectNoDeployStarted(kit.client, closed.name, 'staging');
    await expectNoDeployStarted(kit.client, open.name, 'staging');
  });

  it('answers a malformed but signed payload with 400 saying what is wrong, and starts nothing', async () => {
    const app = await createGitHubApp();
    const notJson = await deliver('push', undefined, { body: '{"ref": ' });
    expect(notJson.statusCode).toBe(400);
    expect(notJson.json().message).toMatch(/^the body is not valid JSON/);
    const { after: _omitted, ...withoutAfter } = push(app, 'c'.repeat(40));
    const missingField = await deliver('push', withoutAfter);
    expect(missingField.statusCode).toBe(400);
    expect(missingField.json().message).toMatch(/^invalid push event: after: /);
    const badSha = await deliver('push', push(app, 'not-a-sha; rm -rf /'));
    expect(badSha.statusCode).toBe(400);
    expect(badSha.json().message).toContain('sha: a hex commit sha');
    await expectNoDeployStarted(kit.client, app.name, 'staging');
  });

  it('refuses a body over 1 MiB with 413 before verifying anything', async () => {
    const response = await deliver('push', undefined, { body: JSON.stringify({ padding: 'x'.repeat(1024 * 1024) }) });
    expect(response.statusCode).toBe(413);
    expect(response.json().error).toBe('payload_too_large');
  });
});
