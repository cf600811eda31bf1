// A run shown on GitHub as a Deployment, off the critical path like its Slack message: statuses are
// queued and posted in order by a background loop, a failure is a note on the run (never its
// verdict), and the end of the run waits a bounded time for the last ones.
import { CancellationScope, condition, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { DeployTarget } from '../activities/deployTarget.js';
import { rootMessage } from '../lib/errors.js';
import { closingStates, type GitHubDeploymentState, type GitHubStatusUpdate } from '../lib/githubDeployments.js';
import type { DeployRequest, RunStatus } from '../lib/messages.js';
import type { LedgerEntry } from '../lib/releaseLedger.js';
import type { RunTracker } from './runTracker.js';

const github = proxyActivities<Activities>({
  // Each attempt makes at most three calls of 5 s each (activities/github.ts).
  startToCloseTimeout: '20s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '4s', maximumAttempts: 3, nonRetryableErrorTypes: ['GitHubRefused'] },
});

/** How long a finished run waits for GitHub to have its closing statuses; its verdict is decided already. */
const FLUSH_WITHIN = '45s';

type OwnDeployment = Pick<GitHubStatusUpdate, 'repository' | 'tokenSecret' | 'runKey' | 'sha' | 'environment'>;

/** A reporter when the run came from GitHub (or an OIDC caller), has a commit, and the app has a GitHub token. */
export function gitHubDeploymentOf(run: RunTracker, target: DeployTarget, request: DeployRequest): GitHubDeploymentReporter | undefined {
  if (!request.github || !target.github || !request.sha) return undefined;
  return new GitHubDeploymentReporter(run, {
    repository: target.github.repository, tokenSecret: target.github.tokenSecret,
    runKey: run.status.workflowId, sha: request.sha, environment: target.environment,
  }, request.github.deploymentId);
}

export class GitHubDeploymentReporter {
  /** The app's URL once health found it: the success status's environment_url. */
  environmentUrl?: string;
  private readonly queue: GitHubStatusUpdate[] = [];
  private isSending = false;

  constructor(private readonly run: RunTracker, private readonly own: OwnDeployment, private deploymentId?: number) {
    // Shielded from cancellation: a cancelled run still tells GitHub how it ended.
    void CancellationScope.nonCancellable(() => this.postLoop());
  }

  post(state: GitHubDeploymentState, description?: string): void {
    this.queue.push({ ...this.own, state, description, mayCreate: true, ...(state === 'success' && this.environmentUrl ? { environmentUrl: this.environmentUrl } : {}) });
  }

  /**
   * The run has ended: its closing statuses (a rolled-back release: failure, then inactive), and the
   * release the rollback put back, when an earlier run deployed it, is that run's deployment's success again.
   */
  close(status: RunStatus, entries: LedgerEntry[]): void {
    for (const state of closingStates(status.state)) this.post(state, status.outcome ?? status.state);
    const restored = status.state === 'rolled-back' ? deployedBy(entries, status.facts['rolled back to']) : undefined;
    if (restored?.commit) {
      this.queue.push({
        ...this.own, runKey: restored.id, sha: restored.commit, state: 'success', mayCreate: false,
        description: `serving again after ${this.own.runKey} was rolled back`, ...(this.environmentUrl ? { environmentUrl: this.environmentUrl } : {}),
      });
    }
  }

  /** Waits (bounded) until GitHub has every status; what is left is noted on the run. */
  async flush(): Promise<void> {
    const isFlushed = await condition(() => this.queue.length === 0 && !this.isSending, FLUSH_WITHIN);
    if (!isFlushed) this.run.fact('github error', `gave up waiting for GitHub: ${this.queue.map((u) => u.state).join(', ')} not posted`);
  }

  private async postLoop(): Promise<void> {
    for (;;) {
      await condition(() => this.queue.length > 0);
      const update = this.queue[0]!;
      const isOwn = update.runKey === this.own.runKey;
      this.isSending = true;
      try {
        const { deploymentId } = await github.postGitHubDeploymentStatus({ ...update, ...(isOwn && this.deploymentId !== undefined ? { deploymentId: this.deploymentId } : {}) });
        if (isOwn && deploymentId !== undefined) {
          this.deploymentId = deploymentId;
          this.run.fact('github deployment', `${deploymentId}: ${update.state}`);
        }
      } catch (err) {
        this.run.fact('github error', `${update.state} not posted: ${rootMessage(err)}`);
      } finally {
        this.queue.shift();
        this.isSending = false;
      }
    }
  }
}

/** The newest deploy run that put this image out (rollbacks make no GitHub deployment of their own). */
function deployedBy(entries: LedgerEntry[], image: unknown): LedgerEntry | undefined {
  return entries
    .filter((e) => e.kind === 'deploy' && e.image === image)
    .sort((a, b) => b.startedAt.localeCompare(a.startedAt))[0];
}
