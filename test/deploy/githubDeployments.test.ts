// GitHub Deployments on the real worker and simulator, against a local stand-in of GitHub's REST API:
// a run from GitHub shows as one deployment with its statuses; a rolled-back release ends inactive and
// the release put back is a success again; GitHub refusing or failing never changes a verdict.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGitHubActivities } from '../../activities/github.js';
import { loadEnvConfig } from '../../lib/config.js';
import { createLogger } from '../../lib/log.js';
import type { DeployRequest } from '../../lib/messages.js';
import { requestDeploy } from '../../lib/operations.js';
import { useDeployWorld, type TestApp } from '../helpers/deployWorld.js';
import { startFakeGitHub, type FakeDeployment, type FakeGitHub, type FakeGitHubFault } from '../helpers/fakeGitHub.js';
import { useWorkflowTestKit } from '../helpers/temporal.js';
import { deployRequest, settle } from './support.js';

const kit = useWorkflowTestKit(fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)));
const world = useDeployWorld(kit);
const TOKEN_SECRET = 'FLIGHTDECK_TEST_GITHUB_TOKEN';
const RUN_URL_BASE = 'https://flightdeck.test/runs/';
let github: FakeGitHub;

beforeAll(async () => {
  github = await startFakeGitHub();
  process.env[TOKEN_SECRET] = github.token;
});
afterAll(async () => {
  await github.close();
  delete process.env[TOKEN_SECRET];
});

interface GitHubApp extends TestApp { repository: string }

async function createGitHubApp(): Promise<GitHubApp> {
  github.clearFaults();
  const repository = `acme/${kit.uniqueId('shop')}`;
  const app = await world.createApp({ app: { github: { repository, token: { secret: TOKEN_SECRET } } } });
  return { ...app, repository };
}

function activities() {
  return world.activities({}, { GITHUB_API_URL: github.apiUrl, FLIGHTDECK_RUN_URL_BASE: RUN_URL_BASE });
}

/** A deploy as the GitHub webhook starts it. */
function fromGitHub(app: TestApp, sha: string): DeployRequest {
  return { ...deployRequest(app, sha), trigger: { source: 'github', actor: 'github:octocat' }, github: {} };
}

async function deploy(taskQueue: string, request: DeployRequest) {
  const { workflowId } = await requestDeploy(kit.client, taskQueue, request);
  return { workflowId, ...(await settle(kit.client, workflowId)) };
}

const statesOf = (d: FakeDeployment | undefined) => d?.statuses.map((s) => s.state);

describe('GitHub deployments', () => {
  it('shows a deploy from GitHub as one deployment of its commit: queued, in progress, success with the app and run URLs', async () => {
    const app = await createGitHubApp();
    await kit.withWorker(activities(), async (taskQueue) => {
      const sha = app.repo.commit({ behaviour: { version: 'v2' } });
      const run = await deploy(taskQueue, fromGitHub(app, sha));
      expect(run.status.state).toBe('succeeded');
      const [deployment, ...others] = github.deployments(app.repository);
      expect(others).toEqual([]);
      expect(deployment).toMatchObject({ sha, ref: sha, environment: 'staging', task: 'deploy', auto_merge: false, required_contexts: [], payload: { flightdeckRun: run.workflowId } });
      expect(statesOf(deployment)).toEqual(['queued', 'in_progress', 'success']);
      expect(deployment!.statuses.at(-1)).toMatchObject({ environment_url: app.appUrl, log_url: `${RUN_URL_BASE}${run.workflowId}` });
      expect(run.status.facts['github deployment']).toBe(`${deployment!.id}: success`);
    });
  });

  it("posts a GitHub deployment event's statuses on the deployment GitHub made, and makes none of its own", async () => {
    const app = await createGitHubApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    const made = await fetch(`${github.apiUrl}/repos/${app.repository}/deployments`, {
      method: 'POST', headers: { authorization: `token ${github.token}` }, body: JSON.stringify({ ref: 'main', environment: 'staging', payload: {} }),
    }).then(async (r) => (await r.json()) as { id: number });
    await kit.withWorker(activities(), async (taskQueue) => {
      const run = await deploy(taskQueue, { ...fromGitHub(app, sha), github: { deploymentId: made.id } });
      expect(run.status.state).toBe('succeeded');
      expect(github.deployments(app.repository)).toHaveLength(1);
      expect(statesOf(github.deployments(app.repository)[0])).toEqual(['queued', 'in_progress', 'success']);
    });
  });

  it('marks a rolled-back release failure then inactive, and the release put back success again', async () => {
    const app = await createGitHubApp();
    await kit.withWorker(activities(), async (taskQueue) => {
      const good = await deploy(taskQueue, fromGitHub(app, app.repo.commit({ behaviour: { version: 'v2' } })));
      expect(good.status.state).toBe('succeeded');
      const bad = await deploy(taskQueue, fromGitHub(app, app.repo.commit({ behaviour: { version: 'v3', routes: { '/': { status: 500 } } } })));
      expect(bad.status.state).toBe('rolled-back');
      const byRun = (workflowId: string) => github.deployments(app.repository).find((d) => (d.payload as { flightdeckRun?: string }).flightdeckRun === workflowId);
      expect(statesOf(byRun(bad.workflowId))).toEqual(['queued', 'in_progress', 'failure', 'inactive']);
      expect(statesOf(byRun(good.workflowId))).toEqual(['queued', 'in_progress', 'success', 'success']);
      expect(github.deployments(app.repository)).toHaveLength(2);
    });
  });

  it.each<[string, FakeGitHubFault]>([
    ['refuses every call (403)', { on: 'all', status: 403 }],
    ['refuses the statuses (422)', { on: 'status', status: 422 }],
  ])('keeps the verdict when GitHub %s, and notes it on the run', async (_, fault) => {
    const app = await createGitHubApp();
    github.fail(fault);
    await kit.withWorker(activities(), async (taskQueue) => {
      const run = await deploy(taskQueue, fromGitHub(app, app.repo.commit({ behaviour: { version: 'v2' } })));
      expect(run.status.state).toBe('succeeded');
      expect(run.closedAs).toBe('COMPLETED');
      expect(run.status.facts['github error']).toMatch(new RegExp(`^success not posted: GitHub could not .*${fault.status}`));
      expect(await world.servedBody(app)).toContain('v2');
    });
  });

  it('retries GitHub 5xx a bounded number of times, and a deployment is created once however often its creation is retried', async () => {
    const app = await createGitHubApp();
    github.fail({ on: 'create', status: 502, times: 2 });
    await kit.withWorker(activities(), async (taskQueue) => {
      const run = await deploy(taskQueue, fromGitHub(app, app.repo.commit({ behaviour: { version: 'v2' } })));
      expect(run.status.state).toBe('succeeded');
      expect(github.deployments(app.repository)).toHaveLength(1);
      expect(statesOf(github.deployments(app.repository)[0])).toEqual(['queued', 'in_progress', 'success']);
    });
  });

  it('finds the deployment another worker made for the run instead of making a second one', async () => {
    const app = await createGitHubApp();
    const env = loadEnvConfig({ GITHUB_API_URL: github.apiUrl });
    const update = {
      repository: app.repository, tokenSecret: TOKEN_SECRET, runKey: `deploy/${app.name}/staging/abc`, sha: 'a'.repeat(40),
      environment: 'staging', state: 'queued' as const, mayCreate: true,
    };
    const first = await createGitHubActivities({ env, logger: createLogger({ level: 'silent' }) }).postGitHubDeploymentStatus(update);
    const second = await createGitHubActivities({ env, logger: createLogger({ level: 'silent' }) }).postGitHubDeploymentStatus({ ...update, state: 'in_progress' });
    expect(second.deploymentId).toBe(first.deploymentId);
    expect(github.deployments(app.repository)).toHaveLength(1);
    expect(statesOf(github.deployments(app.repository)[0])).toEqual(['queued', 'in_progress']);
  });
});
