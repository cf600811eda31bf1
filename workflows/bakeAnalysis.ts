// The bake with analysis: the health probe keeps running for the bake window while, every interval,
// the metrics (PromQL in an activity) and the logs (`fly logs` in an activity) are judged against
// the window before the deploy. N failed intervals fail the bake, and the failure policy applies.
import { ApplicationFailure, CancellationScope, proxyActivities, sleep } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { DeployTarget } from '../activities/deployTarget.js';
import {
  judgeInterval, judgeLogs, judgeMetric, logBaselineOf, type AnalysisPlan, type AnalysisSummary, type CheckVerdict,
  type LogBaseline,
} from '../lib/bakeAnalysis.js';
import { failureType, PermanentError, rootMessage } from '../lib/errors.js';
import type { LogScan } from '../lib/logScan.js';
import { flyReadOptions } from './activityOptions.js';
import type { RunTracker } from './runTracker.js';

const SAMPLE_LINES = 3;

const reads = proxyActivities<Activities>({ ...flyReadOptions, retry: { ...flyReadOptions.retry, maximumAttempts: 3 } });

/**
 * Started with the deploy (it runs alongside, adding no time): the matching log lines of the bake's
 * length before the deploy. A baseline that cannot be read is no baseline, never a failed deploy.
 */
export function readLogBaseline(target: DeployTarget, plan: AnalysisPlan, deployStartedAt: string): Promise<LogBaseline | undefined> {
  if (!plan.logs) return Promise.resolve(undefined);
  const after = new Date(Date.parse(deployStartedAt) - target.bakeMs).toISOString();
  return reads.flyLogScan({ flyApp: target.flyApp, patterns: plan.logs.patterns, after, notAfter: deployStartedAt, samples: 0 })
    .then((scan) => logBaselineOf(scan, deployStartedAt, target.bakeMs / 60_000))
    .catch(() => undefined);
}

/** Runs the health probe of the bake and the analysis together; the first failure cancels the other. */
export async function bakeWithAnalysis<T>(
  run: RunTracker, target: DeployTarget, plan: AnalysisPlan, probe: () => Promise<T>, baseline: { deployStartedAt: string; logs: Promise<LogBaseline | undefined> },
): Promise<{ probe: T; analysis: AnalysisSummary }> {
  return CancellationScope.cancellable(async () => {
    try {
      const [probed, analysis] = await Promise.all([probe(), analyze(run, target, plan, baseline)]);
      return { probe: probed, analysis };
    } catch (err) {
      CancellationScope.current().cancel();
      throw err;
    }
  });
}

async function analyze(run: RunTracker, target: DeployTarget, plan: AnalysisPlan, baseline: { deployStartedAt: string; logs: Promise<LogBaseline | undefined> }): Promise<AnalysisSummary> {
  const intervals = Math.max(1, Math.round(target.bakeMs / plan.intervalMs));
  const bakeStartedAt = Date.now();
  const logBaseline = await baseline.logs;
  let logsAfter = new Date(bakeStartedAt).toISOString();
  let logMatches = 0;
  let samples: string[] = [];
  const summary: AnalysisSummary = { intervals: 0, failedIntervals: 0, isInconclusive: false, last: [] };
  // A check is inconclusive only if it never had data: a rate window still filling right after the rollout is not.
  const withData = new Set<string>();
  const without = new Map<string, string>();
  for (let i = 1; i <= intervals; i++) {
    await sleep(plan.intervalMs);
    const notAfter = new Date().toISOString();
    const [metrics, logs] = await Promise.all([readMetrics(plan, baseline.deployStartedAt), scanLogs(target, plan, logsAfter, notAfter)]);
    const checks = [...metrics];
    if (plan.logs && logs) {
      logsAfter = notAfter;
      logMatches += logs.matches;
      samples = [...samples, ...logs.samples].slice(-SAMPLE_LINES);
      checks.push(judgeLogs(plan.logs, logBaseline, logMatches, (Date.parse(notAfter) - bakeStartedAt) / 60_000));
    } else if (plan.logs) {
      checks.push({ name: 'logs', verdict: 'no-data', detail: 'logs: no data (fly logs could not be read)' });
    }
    const verdict = judgeInterval(plan, checks);
    summary.intervals = i;
    summary.last = verdict.details;
    for (const check of checks) {
      if (check.verdict === 'no-data') without.set(check.name, check.detail);
      else withData.add(check.name);
    }
    if (verdict.isFailed) {
      summary.failedIntervals++;
      run.thread(`Bake analysis, interval ${i}/${intervals} failed: ${verdict.failures.join('; ')}`);
    }
    if (summary.failedIntervals >= plan.failedIntervals) {
      if (samples.length && checks.some((c) => c.name === 'logs' && c.verdict === 'fail')) run.thread(`Sample log lines:\n${samples.join('\n')}`);
      throw ApplicationFailure.nonRetryable(
        `bake analysis failed in ${summary.failedIntervals} of ${i} intervals: ${verdict.failures.join('; ')}`, PermanentError.BakeAnalysisFailed);
    }
  }
  const neverSeen = [...without.entries()].filter(([name]) => !withData.has(name)).map(([, detail]) => detail);
  summary.isInconclusive = plan.noData === 'inconclusive' && neverSeen.length > 0;
  if (summary.isInconclusive) run.thread(`Bake analysis inconclusive, no data during the whole bake: ${neverSeen.join('; ')}`);
  return summary;
}

/** Each query's verdict; Prometheus out of reach after retries is "no data" (the environment's noData decides). */
async function readMetrics(plan: AnalysisPlan, baselineAt: string): Promise<CheckVerdict[]> {
  if (!plan.prometheus || plan.queries.length === 0) return [];
  try {
    const readings = await reads.queryBakeMetrics({ prometheus: plan.prometheus, queries: plan.queries.map(({ name, promql }) => ({ name, promql })), baselineAt });
    return plan.queries.map((query) => judgeMetric(query, readings.find((r) => r.name === query.name)));
  } catch (err) {
    if (failureType(err) === PermanentError.ConfigInvalid) throw err;
    const why = rootMessage(err);
    return plan.queries.map((q) => ({ name: q.name, verdict: 'no-data' as const, detail: `${q.name}: no data (${why})` }));
  }
}

async function scanLogs(target: DeployTarget, plan: AnalysisPlan, after: string, notAfter: string): Promise<LogScan | undefined> {
  if (!plan.logs) return undefined;
  return reads.flyLogScan({ flyApp: target.flyApp, patterns: plan.logs.patterns, after, notAfter, samples: SAMPLE_LINES }).catch(() => undefined);
}
