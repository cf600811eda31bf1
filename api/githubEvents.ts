// What a GitHub event asks Flightdeck to deploy: repository → app (apps[].github.repository),
// branch → environment (environments[].branch). No I/O: the route verifies, this decides, the route starts.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { z } from 'zod';
import type { AppsConfig } from '../lib/config.js';
import type { DeployTarget } from './deployStarter.js';
import { parseRequest } from './validation.js';

export type GitHubDecision =
  | { kind: 'pong'; zen?: string }
  | { kind: 'ignored'; reason: string }
  | {
    kind: 'deploy';
    targets: DeployTarget[];
    actor: string;
    /**
     * What the run is deduplicated on, from the signed body only (X-GitHub-Delivery is not signed): a
     * captured webhook re-sent with a new delivery id finds the run it started, and deploys nothing new.
     */
    signedKey: string;
    /** A deployment event's own deployment: the run posts its statuses there instead of making another. */
    deploymentId?: number;
  };

const repository = z.object({ full_name: z.string() });
const sender = z.object({ login: z.string() }).optional();

const pushEvent = z.object({
  ref: z.string(),
  after: z.string(),
  deleted: z.boolean().default(false),
  repository,
  sender,
});

const workflowRunEvent = z.object({
  action: z.string(),
  workflow_run: z.object({
    name: z.string().nullish(),
    path: z.string().nullish(),
    conclusion: z.string().nullish(),
    head_branch: z.string().nullish(),
    head_sha: z.string(),
    /** What triggered the run: only a push to (or a manual run on) the repository's own branch deploys. */
    event: z.string().nullish(),
    head_repository: z.object({ full_name: z.string() }).nullish(),
  }),
  repository,
  sender,
});

const deploymentEvent = z.object({
  action: z.string().default('created'),
  deployment: z.object({ id: z.number().int(), sha: z.string(), ref: z.string(), environment: z.string() }),
  repository,
  sender,
});

const DEPLOYING_RUN_EVENTS = ['push', 'workflow_dispatch'];

/** The events Flightdeck listens to; anything else is acknowledged and ignored. */
export const HANDLED_GITHUB_EVENTS = ['ping', 'push', 'workflow_run', 'deployment'] as const;

export function decideGitHubEvent(event: string, payload: unknown, config: AppsConfig): GitHubDecision {
  switch (event) {
    case 'ping':
      return { kind: 'pong', zen: parseRequest(z.object({ zen: z.string().optional() }), payload, 'ping event').zen };
    case 'push':
      return decidePush(parseRequest(pushEvent, payload, 'push event'), config);
    case 'workflow_run':
      return decideWorkflowRun(parseRequest(workflowRunEvent, payload, 'workflow_run event'), config);
    case 'deployment':
      return decideDeployment(parseRequest(deploymentEvent, payload, 'deployment event'), config);
    default:
      return { kind: 'ignored', reason: `event "${event}" is not one Flightdeck acts on (${HANDLED_GITHUB_EVENTS.join(', ')})` };
  }
}

function decidePush(push: z.infer<typeof pushEvent>, config: AppsConfig): GitHubDecision {
  if (push.deleted) return { kind: 'ignored', reason: `${push.ref} was deleted` };
  const branch = branchOf(push.ref);
  if (!branch) return { kind: 'ignored', reason: `${push.ref} is not a branch` };
  const apps = appsOfRepository(config, push.repository.full_name);
  if (apps.length === 0) return noAppFor(push.repository.full_name);
  // An app that names a CI workflow deploys when that workflow succeeds, never on the bare push.
  const deployingOnPush = apps.filter(([, app]) => !app.github?.workflow);
  if (deployingOnPush.length === 0) return { kind: 'ignored', reason: `${push.repository.full_name} deploys after its CI workflow succeeds (workflow_run), not on push` };
  return deployBranch(deployingOnPush, branch, push.after, `github:${push.sender?.login ?? 'unknown'}`, signedKey('push', push.repository.full_name, push.ref, push.after));
}

function decideWorkflowRun(event: z.infer<typeof workflowRunEvent>, config: AppsConfig): GitHubDecision {
  const run = event.workflow_run;
  if (event.action !== 'completed') return { kind: 'ignored', reason: `workflow run ${event.action}, not completed` };
  if (run.conclusion !== 'success') return { kind: 'ignored', reason: `workflow run concluded ${run.conclusion ?? 'without a conclusion'}, not success` };
  if (!run.head_branch) return { kind: 'ignored', reason: 'the workflow run has no branch' };
  // A pull request's run (a fork's branch may be called "main" too) is a check, not the branch's CI.
  if (!DEPLOYING_RUN_EVENTS.includes(run.event ?? '')) {
    return { kind: 'ignored', reason: `workflow run triggered by ${run.event ?? 'an unknown event'}; only ${DEPLOYING_RUN_EVENTS.join(' or ')} runs deploy` };
  }
  if (run.head_repository?.full_name.toLowerCase() !== event.repository.full_name.toLowerCase()) {
    return { kind: 'ignored', reason: `the workflow run built ${run.head_repository?.full_name ?? 'an unknown repository'}, not ${event.repository.full_name}` };
  }
  const apps = appsOfRepository(config, event.repository.full_name);
  if (apps.length === 0) return noAppFor(event.repository.full_name);
  const waitingForThisWorkflow = apps.filter(([, app]) => app.github?.workflow && isSameWorkflow(app.github.workflow, run));
  if (waitingForThisWorkflow.length === 0) {
    return { kind: 'ignored', reason: `workflow "${run.name ?? run.path}" is not the one configured for ${event.repository.full_name}` };
  }
  return deployBranch(waitingForThisWorkflow, run.head_branch, run.head_sha, `github:${event.sender?.login ?? 'unknown'}`,
    signedKey('run', event.repository.full_name, run.head_branch, run.head_sha));
}

/**
 * A deployment event names any sha and any environment: it deploys only to an environment that opts
 * in (deploymentEvents: true), and only from that environment's branch, as an OIDC caller would.
 */
function decideDeployment(event: z.infer<typeof deploymentEvent>, config: AppsConfig): GitHubDecision {
  if (event.action !== 'created') return { kind: 'ignored', reason: `deployment ${event.action}, not created` };
  const { sha, ref, environment } = event.deployment;
  const apps = appsOfRepository(config, event.repository.full_name);
  if (apps.length === 0) return noAppFor(event.repository.full_name);
  const withEnvironment = apps.filter(([, app]) => Object.hasOwn(app.environments, environment));
  if (withEnvironment.length === 0) return { kind: 'ignored', reason: `no app of ${event.repository.full_name} has an environment "${environment}"` };
  const branch = branchOf(ref) ?? ref;
  const refusals: string[] = [];
  const targets = withEnvironment.flatMap(([name, app]) => {
    const env = app.environments[environment]!;
    if (!env.deploymentEvents) refusals.push(`${name}/${environment} does not take GitHub deployment events (deploymentEvents: true)`);
    else if (!env.branch || env.branch !== branch) refusals.push(`${name}/${environment} deploys only branch ${env.branch ?? '(none configured)'}, not ${ref}`);
    else return [{ app: name, environment, sha, ref: branch }];
    return [];
  });
  if (targets.length === 0) return { kind: 'ignored', reason: refusals.join('; ') };
  return {
    kind: 'deploy', targets, actor: `github:${event.sender?.login ?? 'unknown'}`, deploymentId: event.deployment.id,
    signedKey: signedKey('deployment', event.repository.full_name, String(event.deployment.id), sha),
  };
}

/** A short, id-safe digest of signed fields. */
function signedKey(kind: string, ...fields: string[]): string {
  return `${kind}-${createHash('sha256').update(fields.join('\n').toLowerCase()).digest('hex').slice(0, 24)}`;
}

type NamedApp = [string, AppsConfig['apps'][string]];

function deployBranch(apps: NamedApp[], branch: string, sha: string, actor: string, key: string): GitHubDecision {
  const targets = apps.flatMap(([name, app]) => Object.entries(app.environments)
    .filter(([, env]) => env.branch === branch)
    .map(([environment]) => ({ app: name, environment, sha, ref: branch })));
  if (targets.length === 0) return { kind: 'ignored', reason: `no environment deploys branch "${branch}"` };
  return { kind: 'deploy', targets, actor, signedKey: key };
}

/**
 * Apps by lower-cased repository, built once per parsed config (the API keeps one until the apps file
 * changes): a webhook looks its repository up instead of scanning every app (2 ms a request with 1000 apps).
 */
const appsByRepository = new WeakMap<AppsConfig, Map<string, NamedApp[]>>();

function appsOfRepository(config: AppsConfig, fullName: string): NamedApp[] {
  let index = appsByRepository.get(config);
  if (!index) {
    index = new Map();
    for (const named of Object.entries(config.apps)) {
      const name = named[1].github?.repository.toLowerCase();
      if (name !== undefined) index.set(name, [...(index.get(name) ?? []), named]);
    }
    appsByRepository.set(config, index);
  }
  return index.get(fullName.toLowerCase()) ?? [];
}

function noAppFor(fullName: string): GitHubDecision {
  return { kind: 'ignored', reason: `no app is configured for repository ${fullName} (apps[].github.repository)` };
}

/** refs/heads/main → main; tags and other refs → undefined. */
function branchOf(ref: string): string | undefined {
  return ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : undefined;
}

/** The config names a workflow by its name ("CI"), file ("ci.yml") or path (".github/workflows/ci.yml"). */
function isSameWorkflow(configured: string, run: { name?: string | null; path?: string | null }): boolean {
  const runPath = run.path ?? '';
  return configured === run.name || configured === runPath || configured === path.posix.basename(runPath);
}
