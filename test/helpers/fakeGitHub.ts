// A local stand-in for GitHub's REST API, Deployments endpoints only, answering with the shapes of
// GitHub's docs ("REST API endpoints for deployments" and "for deployment statuses"): list and create
// deployments, create statuses. It keeps what it was sent and can answer 403, 422 or 5xx on demand.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeDeploymentStatus {
  id: number;
  state: string;
  description: string;
  environment: string;
  log_url: string;
  environment_url: string;
}

export interface FakeDeployment {
  id: number;
  repository: string;
  sha: string;
  ref: string;
  task: string;
  environment: string;
  payload: unknown;
  auto_merge?: boolean;
  required_contexts?: string[];
  statuses: FakeDeploymentStatus[];
}

export interface FakeGitHubFault {
  /** Which calls fail: create (POST deployments), list (GET deployments), status (POST statuses), or all. */
  on: 'create' | 'list' | 'status' | 'all';
  status: 403 | 422 | 500 | 502 | 503;
  /** Fail this many calls, then answer normally; absent: every call. */
  times?: number;
}

export interface FakeGitHub {
  /** GITHUB_API_URL for the worker. */
  readonly apiUrl: string;
  /** The token it accepts (Authorization: token … or Bearer …); anything else is 401 Bad credentials. */
  readonly token: string;
  deployments(repository?: string): FakeDeployment[];
  /** Every call, in order: "POST /repos/o/r/deployments 201". */
  readonly calls: string[];
  fail(fault: FakeGitHubFault): void;
  clearFaults(): void;
  close(): Promise<void>;
}

const DOCS = 'https://docs.github.com/rest/deployments';
const STATES = ['error', 'failure', 'inactive', 'in_progress', 'queued', 'pending', 'success'];

export async function startFakeGitHub(token = 'github_pat_test_never_in_history_5b2f'): Promise<FakeGitHub> {
  const deployments: FakeDeployment[] = [];
  const calls: string[] = [];
  let faults: FakeGitHubFault[] = [];
  let nextId = 1000;
  let baseUrl = '';

  function faultFor(kind: FakeGitHubFault['on']): FakeGitHubFault | undefined {
    const fault = faults.find((f) => f.on === kind || f.on === 'all');
    if (!fault) return undefined;
    if (fault.times !== undefined && --fault.times <= 0) faults = faults.filter((f) => f !== fault);
    return fault;
  }

  function faultBody(status: number): unknown {
    if (status === 403) return { message: 'Resource not accessible by personal access token', documentation_url: DOCS, status: '403' };
    if (status === 422) return { message: 'Validation Failed', errors: [{ resource: 'Deployment', code: 'custom', message: 'Conflict: Commit status checks failed for main.' }], documentation_url: DOCS, status: '422' };
    return { message: 'Server Error' };
  }

  const creator = { login: 'flightdeck[bot]', id: 1, type: 'Bot' };
  const deploymentJson = (d: FakeDeployment) => ({
    url: `${baseUrl}/repos/${d.repository}/deployments/${d.id}`, id: d.id, node_id: `DE_${d.id}`, sha: d.sha, ref: d.ref, task: d.task,
    payload: d.payload, original_environment: d.environment, environment: d.environment, description: null, creator,
    created_at: new Date().toISOString(), updated_at: new Date().toISOString(),
    statuses_url: `${baseUrl}/repos/${d.repository}/deployments/${d.id}/statuses`, repository_url: `${baseUrl}/repos/${d.repository}`,
    transient_environment: false, production_environment: d.environment === 'production',
  });

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const answer = (status: number, body: unknown) => {
        calls.push(`${req.method} ${url.pathname} ${status}`);
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-github-media-type': 'github.v3' });
        res.end(JSON.stringify(body));
      };
      if (req.headers.authorization !== `token ${token}` && req.headers.authorization !== `Bearer ${token}`) {
        answer(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
        return;
      }
      let body: Record<string, unknown> = {};
      try {
        body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> : {};
      } catch {
        answer(400, { message: 'Problems parsing JSON', documentation_url: DOCS, status: '400' });
        return;
      }
      const listOrCreate = /^\/repos\/([^/]+\/[^/]+)\/deployments$/.exec(url.pathname);
      const statuses = /^\/repos\/([^/]+\/[^/]+)\/deployments\/(\d+)\/statuses$/.exec(url.pathname);
      if (listOrCreate && req.method === 'GET') {
        const fault = faultFor('list');
        if (fault) return answer(fault.status, faultBody(fault.status));
        const q = url.searchParams;
        const found = deployments
          .filter((d) => d.repository === listOrCreate[1] && (!q.get('sha') || d.sha === q.get('sha')) && (!q.get('environment') || d.environment === q.get('environment')) && (!q.get('task') || d.task === q.get('task')))
          .reverse().slice(0, Number(q.get('per_page') ?? 30));
        return answer(200, found.map(deploymentJson));
      }
      if (listOrCreate && req.method === 'POST') {
        const fault = faultFor('create');
        if (fault) return answer(fault.status, faultBody(fault.status));
        if (typeof body.ref !== 'string') return answer(422, { message: 'Invalid request.\n\n"ref" wasn\'t supplied.', documentation_url: DOCS, status: '422' });
        const deployment: FakeDeployment = {
          id: ++nextId, repository: listOrCreate[1]!, sha: body.ref, ref: body.ref, task: String(body.task ?? 'deploy'),
          environment: String(body.environment ?? 'production'), payload: body.payload ?? {}, auto_merge: body.auto_merge as boolean | undefined,
          required_contexts: body.required_contexts as string[] | undefined, statuses: [],
        };
        deployments.push(deployment);
        return answer(201, deploymentJson(deployment));
      }
      if (statuses && req.method === 'POST') {
        const fault = faultFor('status');
        if (fault) return answer(fault.status, faultBody(fault.status));
        const deployment = deployments.find((d) => d.repository === statuses[1] && d.id === Number(statuses[2]));
        if (!deployment) return answer(404, { message: 'Not Found', documentation_url: DOCS, status: '404' });
        if (!STATES.includes(String(body.state))) {
          return answer(422, { message: 'Validation Failed', errors: [{ resource: 'DeploymentStatus', code: 'invalid', field: 'state' }], documentation_url: DOCS, status: '422' });
        }
        if (typeof body.description === 'string' && body.description.length > 140) {
          return answer(422, { message: 'Validation Failed', errors: [{ resource: 'DeploymentStatus', code: 'custom', field: 'description', message: 'description is too long (maximum is 140 characters)' }], documentation_url: DOCS, status: '422' });
        }
        const status: FakeDeploymentStatus = {
          id: ++nextId, state: String(body.state), description: String(body.description ?? ''), environment: deployment.environment,
          log_url: String(body.log_url ?? ''), environment_url: String(body.environment_url ?? ''),
        };
        deployment.statuses.push(status);
        return answer(201, {
          url: `${baseUrl}/repos/${deployment.repository}/deployments/${deployment.id}/statuses/${status.id}`, id: status.id, node_id: `DES_${status.id}`,
          state: status.state, creator, description: status.description, environment: status.environment, target_url: status.log_url,
          created_at: new Date().toISOString(), updated_at: new Date().toISOString(),
          deployment_url: `${baseUrl}/repos/${deployment.repository}/deployments/${deployment.id}`, repository_url: `${baseUrl}/repos/${deployment.repository}`,
          environment_url: status.environment_url, log_url: status.log_url,
        });
      }
      return answer(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    apiUrl: baseUrl,
    token,
    calls,
    deployments: (repository) => deployments.filter((d) => repository === undefined || d.repository === repository),
    fail: (fault) => { faults.push({ ...fault }); },
    clearFaults: () => { faults = []; },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
