// GitHub Deployments: how a run started from GitHub (or by a GitHub Actions OIDC caller) shows on the
// commit and its pull request. One deployment per run, found again by the run id in its payload, and
// statuses as the run goes: queued → in_progress → success, or failure (+ inactive once rolled back).
// GitHub is a reporter, never a dependency: nothing here decides a verdict. Pure (workflow code imports it).
import type { RunState } from './messages.js';

/** The states of GitHub's deployment statuses Flightdeck posts (GitHub also knows `pending`). */
export type GitHubDeploymentState = 'queued' | 'in_progress' | 'success' | 'failure' | 'error' | 'inactive';

/** On a deploy request: show this run on GitHub. deploymentId: the one a GitHub deployment event created. */
export interface GitHubDeploymentRequest {
  deploymentId?: number;
}

/** Where the app's deployments go: its repository and the NAME of the variable holding the token. */
export interface GitHubDeploymentTarget {
  repository: string;
  tokenSecret: string;
}

/** One status to post, on the deployment of run `runKey`. */
export interface GitHubStatusUpdate extends GitHubDeploymentTarget {
  /** The run whose deployment this is: its workflow id, kept in the deployment's payload. */
  runKey: string;
  /** The commit deployed (the deployment's ref). */
  sha: string;
  /** Flightdeck's environment name, which is the GitHub environment. */
  environment: string;
  state: GitHubDeploymentState;
  description?: string;
  environmentUrl?: string;
  /** Known already (kept by the run, or made by a GitHub deployment event). */
  deploymentId?: number;
  /** false: only an existing deployment gets the status (an earlier run's, put back by a rollback). */
  mayCreate: boolean;
}

/** The payload field that names the run: a retried create finds the deployment it made instead of making another. */
export const RUN_KEY_FIELD = 'flightdeckRun';

/** GitHub cuts nothing: a longer description is refused (422). */
export const MAX_DESCRIPTION_CHARS = 140;

export function deploymentPayload(runKey: string): Record<string, string> {
  return { [RUN_KEY_FIELD]: runKey };
}

/** GitHub returns the payload as it was given (an object), or as a string for payloads created as one. */
export function isDeploymentOfRun(deployment: { payload?: unknown }, runKey: string): boolean {
  let payload = deployment.payload;
  if (typeof payload === 'string') {
    try {
      payload = JSON.parse(payload) as unknown;
    } catch {
      return false;
    }
  }
  return typeof payload === 'object' && payload !== null && (payload as Record<string, unknown>)[RUN_KEY_FIELD] === runKey;
}

/** The statuses that close a run's deployment, in order. A rolled-back release ends inactive after its failure. */
export function closingStates(state: RunState): GitHubDeploymentState[] {
  switch (state) {
    case 'succeeded': return ['success'];
    case 'rolled-back': return ['failure', 'inactive'];
    case 'failed': return ['failure'];
    case 'cancelled':
    case 'refused':
    case 'superseded': return ['error'];
    default: return [];
  }
}

export function statusDescription(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length <= MAX_DESCRIPTION_CHARS ? oneLine : `${oneLine.slice(0, MAX_DESCRIPTION_CHARS - 1)}…`;
}

/** The run's page for a status's log_url: Flightdeck's run status (FLIGHTDECK_RUN_URL_BASE) or the Temporal UI. */
export function runLogUrl(runKey: string, bases: { runUrlBase?: string; temporalUiBase?: string }): string | undefined {
  if (bases.runUrlBase) return `${bases.runUrlBase}${bases.runUrlBase.endsWith('/') ? '' : '/'}${runKey}`;
  if (bases.temporalUiBase) return `${bases.temporalUiBase}${encodeURIComponent(runKey)}`;
  return undefined;
}
