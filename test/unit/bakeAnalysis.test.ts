// How the bake analysis judges what Prometheus and the logs say, and what its config accepts.
import { describe, expect, it } from 'vitest';
import { judgeInterval, judgeLogs, judgeMetric, logBaselineOf, planAnalysis } from '../../lib/bakeAnalysis.js';
import { ConfigError, parseAppsConfig } from '../../lib/config.js';
import { hasMetricSample, jsonMismatch } from '../../lib/jsonFields.js';
import { parseLogEntries, scanLogEntries } from '../../lib/logScan.js';

function environment(env: Record<string, unknown>) {
  return { apps: { shop: { repository: '/tmp/shop', environments: { production: { flyApp: 'shop', ...env } } } } };
}

function analysisOf(analysis: Record<string, unknown>) {
  return parseAppsConfig(environment({ bake: '10m', analysis })).apps.shop!.environments.production!.analysis!;
}

function problems(raw: unknown): string {
  try {
    parseAppsConfig(raw);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.join('\n');
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('bake analysis config', () => {
  it("defaults to Flagger's thresholds and the runbooks' log patterns, on Fly's managed Prometheus for an org", () => {
    const plan = planAnalysis(analysisOf({ prometheus: { org: 'acme', tokenSecret: 'FLY_METRICS_TOKEN' } }), 'shop');
    expect(plan).toMatchObject({ prometheus: { url: 'https://api.fly.io/prometheus/acme/', tokenSecret: 'FLY_METRICS_TOKEN' }, intervalMs: 60_000, failedIntervals: 2, noData: 'inconclusive', logs: { patterns: ['error', 'fatal', 'panic'], maxIncrease: 5 } });
    expect(plan.queries.map((q) => [q.name, q.max])).toEqual([['error ratio', 0.01], ['p99 latency', 0.5]]);
    expect(plan.queries[0]!.promql).toBe('(sum(rate(http_requests_total{app="shop",status=~"5.."}[60s])) or vector(0)) / sum(rate(http_requests_total{app="shop"}[60s]))');
  });

  it('fills $app and $window into user queries', () => {
    const plan = planAnalysis(analysisOf({ prometheus: { url: 'http://prom:9090' }, window: '30s', queries: [{ name: 'queue', promql: 'max(jobs{app="$app"}[$window])', max: 10 }] }), 'shop');
    expect(plan.queries[2]).toMatchObject({ name: 'queue', promql: 'max(jobs{app="shop"}[30s])', max: 10, isComparedWithBaseline: false });
  });

  it('refuses analysis without a bake, a query without a threshold, both url and org, and a bad log pattern', () => {
    expect(problems(environment({ analysis: {} }))).toMatch(/analysis runs during the bake: set bake too/);
    const found = problems(environment({ bake: '5m', analysis: { prometheus: { url: 'http://p', org: 'acme' }, queries: [{ name: 'q', promql: 'up' }], logs: { patterns: ['(unclosed'] } } }));
    expect(found).toMatch(/either url .* or org/);
    expect(found).toMatch(/a threshold: max, min or both/);
    expect(found).toMatch(/a regular expression/);
  });
});

describe('judging an interval', () => {
  const plan = planAnalysis(analysisOf({ prometheus: { url: 'http://p' } }), 'shop');
  const [errorRatio] = plan.queries;

  it('fails a built-in that is over its threshold and worse than before the deploy', () => {
    expect(judgeMetric(errorRatio!, { name: 'error ratio', current: [0.2], baseline: [0] })).toMatchObject({ verdict: 'fail', detail: 'error ratio 20.00% (before the deploy 0.00%), above 1.00%' });
  });

  it('passes a built-in over its threshold that is no worse than before the deploy', () => {
    expect(judgeMetric(errorRatio!, { name: 'error ratio', current: [0.05], baseline: [0.06] })).toMatchObject({ verdict: 'pass' });
  });

  it('calls an empty answer no data, and lets the environment decide what that means', () => {
    const noData = judgeMetric(errorRatio!, { name: 'error ratio', current: [], baseline: [] });
    expect(noData.verdict).toBe('no-data');
    expect(judgeInterval(plan, [noData]).isFailed).toBe(false);
    expect(judgeInterval({ ...plan, noData: 'fail' }, [noData]).isFailed).toBe(true);
  });

  it('allows the log lines the baseline rate predicts plus maxIncrease', () => {
    const baseline = logBaselineOf({ matches: 6, oldest: '2026-01-01T00:00:00Z' }, '2026-01-01T00:03:00Z', 10);
    expect(baseline).toEqual({ matches: 6, minutes: 3 });
    expect(judgeLogs({ patterns: ['error'], maxIncrease: 5 }, baseline, 9, 2).verdict).toBe('pass');
    expect(judgeLogs({ patterns: ['error'], maxIncrease: 5 }, baseline, 10, 2).verdict).toBe('fail');
  });

  it('says none were seen before the deploy whether the log before it was empty or had no matching line', () => {
    const quiet = logBaselineOf({ matches: 0, oldest: '2026-01-01T00:00:00Z' }, '2026-01-01T00:03:00Z', 10);
    const detail = 'log lines matching error (none seen before the deploy; up to 2 allowed)';
    expect(judgeLogs({ patterns: ['error'], maxIncrease: 2 }, quiet, 3, 2)).toEqual({ name: 'logs', verdict: 'fail', detail: `3 ${detail}` });
    expect(judgeLogs({ patterns: ['error'], maxIncrease: 2 }, undefined, 3, 2).detail).toBe(`3 ${detail}`);
  });
});

describe('reading answers', () => {
  it('counts log lines in a time range matching a pattern in their level or message', () => {
    const entry = (timestamp: string, level: string, message: string) => JSON.stringify({ level, instance: 'm1', message, region: 'iad', timestamp, meta: {} }, null, 4);
    const stdout = [entry('2026-01-01T00:00:01Z', 'info', 'ok'), entry('2026-01-01T00:00:02Z', 'error', 'db down'), entry('2026-01-01T00:00:03Z', 'info', 'PANIC: x')].join('\n');
    const scan = scanLogEntries(parseLogEntries(stdout), { patterns: ['error', 'panic'], after: '2026-01-01T00:00:01Z', samples: 1 });
    expect(scan).toMatchObject({ lines: 2, matches: 2, samples: ['2026-01-01T00:00:03Z m1 [info] PANIC: x'] });
  });

  it('reads dotted JSON paths and metric samples by exact name', () => {
    expect(jsonMismatch('{"status":"degraded","checks":{"postgres":{"status":"fail"}}}', { status: 'ok' })).toBe('JSON status is "degraded", expected "ok"');
    expect(jsonMismatch('{"checks":{}}', { 'checks.postgres.status': 'pass' })).toBe('JSON checks.postgres.status is missing, expected "pass"');
    expect(hasMetricSample('# TYPE app_http_requests_total counter\napp_http_requests_total{status="200"} 3\n', 'app_http_requests_total')).toBe(true);
    expect(hasMetricSample('app_http_requests_total_created 1\n', 'app_http_requests_total')).toBe(false);
  });
});
