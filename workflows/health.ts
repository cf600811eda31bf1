// The health verdict, shared by the pipeline and the rollback: Flightdeck's own probe of the app's
// health URL plus flyctl's per-machine checks.
import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { DeployTarget } from '../activities/deployTarget.js';
import { PermanentError } from '../lib/errors.js';
import { flyReadOptions, probeOptions } from './activityOptions.js';

const fly = proxyActivities<Activities>(flyReadOptions);

/**
 * Health is Flightdeck's own verdict: N good answers in a row, and every machine's checks passing.
 * knownAppUrl: the app's URL, when the caller read it already (a deploy does not change it).
 */
export async function verifyHealth(target: DeployTarget, knownAppUrl?: string): Promise<{ appUrl: string; url: string; detail: string }> {
  const appUrl = knownAppUrl ?? (await fly.flyAppStatus(target.flyApp)).appUrl;
  const url = healthUrl(target, appUrl);
  const settings = probeSettings(target);
  const result = await proxyActivities<Activities>(probeOptions(settings.deadlineMs)).probeHealth({ ...settings, url });
  const checks = await fly.flyMachineChecks(target.flyApp);
  if (!checks.isAllPassing) {
    throw ApplicationFailure.nonRetryable(`machine checks failing: ${checks.failing.join('; ')}`, PermanentError.HealthCheckFailed);
  }
  return { appUrl, url, detail: `${settings.consecutiveSuccesses}/${settings.consecutiveSuccesses} probes ok in ${Math.round(result.elapsedMs / 100) / 10}s, ${checks.total} machine checks passing` };
}


export function healthUrl(target: DeployTarget, appUrl: string): string {
  return target.health.url ?? new URL(target.health.path, appUrl).toString();
}

export function probeSettings(target: DeployTarget) {
  return {
    consecutiveSuccesses: target.health.consecutiveSuccesses, intervalMs: target.health.intervalMs,
    deadlineMs: target.health.deadlineMs, requestTimeoutMs: target.health.requestTimeoutMs,
    ...(target.health.expectJson ? { expectJson: target.health.expectJson } : {}),
  };
}
