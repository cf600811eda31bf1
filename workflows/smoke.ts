// The smoke verdict, shared by the pipeline and the rollback: a release is judged by the same checks
// whether Flightdeck deployed it forward or went back to it.
import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { DeployTarget } from '../activities/deployTarget.js';
import { PermanentError } from '../lib/errors.js';
import type { CheckResult } from '../lib/messages.js';
import { appCommandOptions, localOptions } from './activityOptions.js';

const local = proxyActivities<Activities>(localOptions);

/** Runs the smoke checks (and the smoke command, when there is a checkout); throws SmokeCheckFailed. */
/** `runnerTaskQueue`: where the smoke command runs (the runner queue, patch runner-queue); absent: the run's own queue. */
export async function verifySmoke(target: DeployTarget, appUrl: string, workspace: string | undefined, onResults: (results: CheckResult[]) => void, runnerTaskQueue?: string): Promise<number> {
  const baseUrl = target.health.url ? new URL(target.health.url).origin : appUrl;
  const results = await local.runSmokeChecks({ baseUrl, checks: target.smokeChecks });
  onResults(results);
  const failed = results.filter((r) => !r.isPassed);
  if (failed.length) {
    throw ApplicationFailure.nonRetryable(`smoke checks failed: ${failed.map((r) => `${r.name} (${r.detail})`).join('; ')}`, PermanentError.SmokeCheckFailed);
  }
  if (target.smokeCommand && workspace) {
    await proxyActivities<Activities>({ ...appCommandOptions(10 * 60_000), taskQueue: runnerTaskQueue }).runWorkspaceCommand({
      workspace, command: target.smokeCommand, timeoutMs: 10 * 60_000, failureType: PermanentError.SmokeCheckFailed, label: 'smoke command', app: target.app, kind: 'smoke',
    });
  }
  return results.length;
}

export function describeChecksPassed(count: number): string {
  return `${count} ${count === 1 ? 'check' : 'checks'} passed`;
}
