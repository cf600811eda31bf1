// Every GitHub REST call (Deployments API). GitHub is a reporter, never a dependency, as Slack is:
// short timeouts, no retries of the client's own (the workflow's policy bounds them), and the token
// read here by NAME from the worker's environment, never in arguments, results, logs or errors.
import { Octokit } from '@octokit/rest';
import { ApplicationFailure } from '@temporalio/common';
import { readSecret, type EnvConfig } from '../lib/config.js';
import {
  deploymentPayload, isDeploymentOfRun, runLogUrl, statusDescription, type GitHubStatusUpdate,
} from '../lib/githubDeployments.js';
import type { Logger } from '../lib/log.js';
import { redactText } from '../lib/redact.js';

/** One HTTP call to GitHub: an answer within this, or the attempt fails (and may be retried). */
const REQUEST_TIMEOUT_MS = 5000;

/** Failure types the workflow's retry policy reads: refused is not retried (403, 404, 422...). */
export const GitHubFailure = { Refused: 'GitHubRefused', Unavailable: 'GitHubUnavailable' } as const;

export interface GitHubDeps {
  env: Pick<EnvConfig, 'GITHUB_API_URL' | 'FLIGHTDECK_RUN_URL_BASE' | 'TEMPORAL_UI_URL' | 'TEMPORAL_NAMESPACE'>;
  logger: Logger;
}

export function createGitHubActivities({ env, logger }: GitHubDeps) {
  // A create whose answer was lost is found again by the run id in its payload; this worker also
  // remembers what it made, so its own retries do not even need the lookup.
  const deploymentByRunKey = new Map<string, number>();
  const temporalUiBase = env.TEMPORAL_UI_URL ? `${env.TEMPORAL_UI_URL.replace(/\/$/, '')}/namespaces/${env.TEMPORAL_NAMESPACE}/workflows/` : undefined;

  function clientFor(tokenSecret: string): Octokit {
    const token = readSecret(tokenSecret);
    if (!token) throw refused(`the worker has no ${tokenSecret} in its environment (apps.<app>.github.token.secret names it)`);
    return new Octokit({ auth: token, baseUrl: env.GITHUB_API_URL.replace(/\/$/, ''), userAgent: 'flightdeck', log: silentLog });
  }

  /** The run's deployment: the one it kept, else one whose payload names the run, else (mayCreate) a new one. */
  async function deploymentOf(octokit: Octokit, update: GitHubStatusUpdate, repo: { owner: string; repo: string }): Promise<number | undefined> {
    const known = update.deploymentId ?? deploymentByRunKey.get(update.runKey);
    if (known !== undefined) return known;
    const { data: existing } = await call('list deployments', () => octokit.rest.repos.listDeployments({
      ...repo, sha: update.sha, environment: update.environment, task: 'deploy', per_page: 100, request: timeout(),
    }));
    const found = existing.find((d) => isDeploymentOfRun(d, update.runKey));
    if (found) return remember(update.runKey, found.id);
    if (!update.mayCreate) return undefined;
    const created = await call('create a deployment', () => octokit.rest.repos.createDeployment({
      ...repo, ref: update.sha, task: 'deploy', environment: update.environment, auto_merge: false, required_contexts: [],
      payload: deploymentPayload(update.runKey), transient_environment: false,
      description: statusDescription(`Flightdeck ${update.runKey}`), request: timeout(),
    }));
    // 202 is GitHub's "merged the default branch into the ref first"; auto_merge is off, so it means no deployment.
    if (created.status !== 201 || !('id' in created.data)) throw refused(`GitHub made no deployment: ${created.status} ${'message' in created.data ? String(created.data.message) : ''}`.trim());
    return remember(update.runKey, created.data.id);
  }

  function remember(runKey: string, id: number): number {
    deploymentByRunKey.set(runKey, id);
    if (deploymentByRunKey.size > 1000) deploymentByRunKey.delete(deploymentByRunKey.keys().next().value!);
    return id;
  }

  return {
    /**
     * Posts one status on the run's deployment (creating it first when allowed) and returns its id, or
     * no id when there is none to post on. Throws GitHubRefused (do not retry) or GitHubUnavailable.
     */
    async postGitHubDeploymentStatus(update: GitHubStatusUpdate): Promise<{ deploymentId?: number }> {
      const [owner, repo] = update.repository.split('/') as [string, string];
      const octokit = clientFor(update.tokenSecret);
      const deploymentId = await deploymentOf(octokit, update, { owner, repo });
      if (deploymentId === undefined) return {};
      const logUrl = runLogUrl(update.runKey, { runUrlBase: env.FLIGHTDECK_RUN_URL_BASE, temporalUiBase });
      await call(`post "${update.state}"`, () => octokit.rest.repos.createDeploymentStatus({
        owner, repo, deployment_id: deploymentId, state: update.state,
        ...(update.description ? { description: statusDescription(update.description) } : {}),
        ...(logUrl ? { log_url: logUrl } : {}),
        ...(update.environmentUrl ? { environment_url: update.environmentUrl } : {}),
        request: timeout(),
      }));
      logger.info({ github: { repository: update.repository, deploymentId, state: update.state, run: update.runKey } }, 'GitHub deployment status posted');
      return { deploymentId };
    },
  };

  async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const failure = gitHubFailure(what, err);
      logger.warn({ github: { failure: failure.type } }, failure.message);
      throw failure;
    }
  }
}

export type GitHubActivities = ReturnType<typeof createGitHubActivities>;

function timeout(): { signal: AbortSignal } {
  return { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) };
}

const silentLog = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

function refused(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: GitHubFailure.Refused, message: redactText(message), nonRetryable: true });
}

/**
 * 5xx, 429, a timeout or a network error may pass: retryable (after Retry-After when GitHub sends one).
 * Anything else GitHub answered (401, 403, 404, 409, 422) will answer the same again: not retried.
 */
function gitHubFailure(what: string, err: unknown): ApplicationFailure {
  const e = err as { status?: number; message?: string; response?: { headers?: Record<string, string | undefined> } };
  const status = e.status;
  const detail = redactText(`GitHub could not ${what}: ${status && status !== 500 ? `${status} ` : ''}${e.message ?? String(err)}`);
  const isRateLimited = status === 429 || (status === 403 && e.response?.headers?.['x-ratelimit-remaining'] === '0');
  if (status !== undefined && status < 500 && !isRateLimited) return ApplicationFailure.create({ type: GitHubFailure.Refused, message: detail, nonRetryable: true });
  const retryAfter = Number(e.response?.headers?.['retry-after']);
  return ApplicationFailure.create({
    type: GitHubFailure.Unavailable, message: detail, nonRetryable: false,
    ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { nextRetryDelay: `${Math.min(retryAfter, 10)}s` } : {}),
  });
}
