// The health verdict, shared by the pipeline and the rollback: Flightdeck's own probe of the app's
// health URL plus flyctl's per-machine checks.
import { ApplicationFailure, CancellationScope, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { DeployTarget } from '../activities/deployTarget.js';
import type { MachineChecks } from '../activities/fly.js';
import { PermanentError } from '../lib/errors.js';
import { flyReadOptions, probeOptions } from './activityOptions.js';

const fly = proxyActivities<Activities>(flyReadOptions);

/**
 * How health reads: one activity running the probe and the checks at once (patch
 * health-in-one-activity), two activities at once (patch one-trip-stages), or one after the other.
 * At once, the checks are read again until they pass or their deadline, so an early read judges nothing.
 */
export type HealthReading = 'one-activity' | 'at-once' | 'sequential';

/**
 * Health is Flightdeck's own verdict: N good answers in a row, and every machine's checks passing.
 * knownAppUrl: the app's URL, when the caller read it already (a deploy does not change it).
 */
export async function verifyHealth(target: DeployTarget, knownAppUrl?: string, reading: HealthReading = 'sequential'): Promise<{ appUrl: string; url: string; detail: string }> {
  const appUrl = knownAppUrl ?? (await fly.flyAppStatus(target.flyApp)).appUrl;
  const url = healthUrl(target, appUrl);
  const settings = probeSettings(target);
  const probing = () => proxyActivities<Activities>(probeOptions(settings.deadlineMs));
  const detail = (result: { elapsedMs: number }, checks: MachineChecks) =>
    `${settings.consecutiveSuccesses}/${settings.consecutiveSuccesses} probes ok in ${Math.round(result.elapsedMs / 100) / 10}s, ${checks.total} machine checks passing`;
  if (reading === 'one-activity') {
    // One completion: the activity fails with the first failure (the probe's, or the checks' below).
    const verdict = await probing().verifyAppHealth({ ...settings, url, flyApp: target.flyApp });
    return { appUrl, url, detail: detail(verdict.probe, verdict.checks) };
  }
  const probe = () => probing().probeHealth({ ...settings, url });
  const checkMachines = () => fly.flyMachineChecks(target.flyApp);
  const [result, checks] = reading === 'at-once' ? await bothAtOnce(probe, checkMachines) : [await probe(), await checkMachines()];
  if (!checks.isAllPassing) {
    throw ApplicationFailure.nonRetryable(`machine checks failing: ${checks.failing.join('; ')}`, PermanentError.HealthCheckFailed);
  }
  return { appUrl, url, detail: detail(result, checks) };
}

/** Both at once; the first failure is the verdict and cancels the other, whose answer no longer matters. */
async function bothAtOnce<A, B>(first: () => Promise<A>, second: () => Promise<B>): Promise<[A, B]> {
  const scope = new CancellationScope();
  return scope.run(async () => {
    try {
      return await Promise.all([first(), second()]);
    } catch (err) {
      scope.cancel();
      throw err;
    }
  });
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
