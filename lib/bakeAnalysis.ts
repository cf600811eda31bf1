// What the runbooks read after a deploy besides /health, judged per interval during the bake:
// Prometheus metrics (built-in error ratio and p99 of the new release against the window before the
// deploy, plus the environment's own queries) and `fly logs` lines matching error|fatal|panic against
// the rate before the deploy. Pure: activities query and count, the workflow loops, this judges.
import type { AnalysisConfig } from './config.js';
import { durationToMs } from './duration.js';

export type NoDataPolicy = 'inconclusive' | 'pass' | 'fail';

export interface MetricQuery {
  name: string;
  promql: string;
  max?: number;
  min?: number;
  /** Built-ins fail only when worse than the same query just before the deploy. */
  isComparedWithBaseline: boolean;
  unit: 'ratio' | 'seconds' | 'value';
}

/** An environment's analysis, resolved for one Fly app (recorded in history with the deploy target). */
export interface AnalysisPlan {
  /** Where PromQL goes, and the NAME of the token's variable; absent: logs only. */
  prometheus?: { url: string; tokenSecret?: string };
  intervalMs: number;
  failedIntervals: number;
  noData: NoDataPolicy;
  queries: MetricQuery[];
  logs?: { patterns: string[]; maxIncrease: number };
}

const FLY_PROMETHEUS = 'https://api.fly.io/prometheus/';

export function planAnalysis(config: AnalysisConfig, flyApp: string): AnalysisPlan {
  const intervalMs = durationToMs(config.interval);
  const window = `${Math.max(1, Math.round(durationToMs(config.window ?? config.interval) / 1000))}s`;
  const app = `app="${flyApp}"`;
  const fill = (promql: string) => promql.replaceAll('$app', flyApp).replaceAll('$window', window);
  const requests = config.requestsMetric;
  const builtIns: MetricQuery[] = [
    {
      name: 'error ratio',
      promql: `(sum(rate(${requests}{${app},status=~"5.."}[${window}])) or vector(0)) / sum(rate(${requests}{${app}}[${window}]))`,
      max: Math.round((1 - config.successRate / 100) * 1e6) / 1e6, isComparedWithBaseline: true, unit: 'ratio',
    },
    {
      name: 'p99 latency',
      promql: `histogram_quantile(0.99, sum by (le) (rate(${config.latencyMetric}_bucket{${app}}[${window}])))`,
      max: durationToMs(config.p99) / 1000, isComparedWithBaseline: true, unit: 'seconds',
    },
  ];
  const prometheus = config.prometheus && {
    url: config.prometheus.url ?? `${FLY_PROMETHEUS}${config.prometheus.org}/`,
    ...(config.prometheus.tokenSecret ? { tokenSecret: config.prometheus.tokenSecret } : {}),
  };
  return {
    ...(prometheus ? { prometheus } : {}),
    intervalMs,
    failedIntervals: config.failedIntervals,
    noData: config.noData,
    queries: prometheus ? [...builtIns, ...config.queries.map((q) => ({ ...q, promql: fill(q.promql), isComparedWithBaseline: false, unit: 'value' as const }))] : [],
    ...(config.logs ? { logs: { patterns: config.logs.patterns, maxIncrease: config.logs.maxIncrease } } : {}),
  };
}

/** A query's samples now and at the baseline instant (NaN and ±Inf dropped), or why it could not run. */
export interface MetricReading { name: string; current: number[]; baseline: number[]; error?: string }

export type Verdict = 'pass' | 'fail' | 'no-data';

export interface CheckVerdict { name: string; verdict: Verdict; detail: string }

function format(value: number, unit: MetricQuery['unit']): string {
  if (unit === 'ratio') return `${(value * 100).toFixed(2)}%`;
  if (unit === 'seconds') return `${Math.round(value * 1000)}ms`;
  return String(Math.round(value * 1000) / 1000);
}

/** The worst sample for the query's threshold: the highest against a max, the lowest against a min. */
function worst(values: number[], query: MetricQuery): number | undefined {
  if (values.length === 0) return undefined;
  return query.max !== undefined ? Math.max(...values) : Math.min(...values);
}

function breach(value: number, query: MetricQuery): string | undefined {
  if (query.max !== undefined && value > query.max) return `above ${format(query.max, query.unit)}`;
  if (query.min !== undefined && value < query.min) return `below ${format(query.min, query.unit)}`;
  return undefined;
}

export function judgeMetric(query: MetricQuery, reading: MetricReading | undefined): CheckVerdict {
  if (!reading || reading.error) return { name: query.name, verdict: 'fail', detail: `${query.name}: query failed: ${reading?.error ?? 'no answer'}` };
  const current = worst(reading.current, query);
  if (current === undefined) return { name: query.name, verdict: 'no-data', detail: `${query.name}: no data` };
  const baseline = query.isComparedWithBaseline ? worst(reading.baseline, query) : undefined;
  const before = baseline === undefined ? '' : ` (before the deploy ${format(baseline, query.unit)})`;
  const text = `${query.name} ${format(current, query.unit)}${before}`;
  const over = breach(current, query);
  if (!over) return { name: query.name, verdict: 'pass', detail: text };
  const isWorse = baseline === undefined || (query.max !== undefined ? current > baseline : current < baseline);
  if (!isWorse) return { name: query.name, verdict: 'pass', detail: `${text}, ${over} but no worse than before` };
  return { name: query.name, verdict: 'fail', detail: `${text}, ${over}` };
}

/** Matching log lines before the deploy: how many, over how many minutes of log. */
export interface LogBaseline { matches: number; minutes: number }

export function logBaselineOf(scan: { matches: number; oldest?: string } | undefined, deployStartedAt: string, maxMinutes: number): LogBaseline | undefined {
  if (!scan?.oldest) return undefined;
  const minutes = Math.min(maxMinutes, (Date.parse(deployStartedAt) - Date.parse(scan.oldest)) / 60_000);
  return minutes > 0 ? { matches: scan.matches, minutes } : undefined;
}

/** Matching lines since the bake began against what the baseline rate predicts for as long, plus the allowance. */
export function judgeLogs(logs: NonNullable<AnalysisPlan['logs']>, baseline: LogBaseline | undefined, matches: number, minutes: number): CheckVerdict {
  const expected = baseline ? (baseline.matches / baseline.minutes) * minutes : 0;
  const allowed = Math.floor(expected) + logs.maxIncrease;
  const before = baseline?.matches ? `${Math.round((baseline.matches / baseline.minutes) * 10) / 10}/min before the deploy` : 'none seen before the deploy';
  const detail = `${matches} log lines matching ${logs.patterns.join('|')} (${before}; up to ${allowed} allowed)`;
  return { name: 'logs', verdict: matches > allowed ? 'fail' : 'pass', detail };
}

export interface IntervalVerdict { isFailed: boolean; details: string[]; failures: string[] }

/** An interval fails on any failed check, and on a check without data when the environment says noData: fail. */
export function judgeInterval(plan: AnalysisPlan, checks: CheckVerdict[]): IntervalVerdict {
  const failures = checks.filter((c) => c.verdict === 'fail' || (c.verdict === 'no-data' && plan.noData === 'fail')).map((c) => c.detail);
  return { isFailed: failures.length > 0, details: checks.map((c) => c.detail), failures };
}

/** isInconclusive: some check never had data during the whole bake (with noData: inconclusive). last: the last interval's checks. */
export interface AnalysisSummary { intervals: number; failedIntervals: number; isInconclusive: boolean; last: string[] }

export function describeAnalysis(summary: AnalysisSummary): string {
  const verdict = summary.isInconclusive ? 'inconclusive (no data)' : summary.failedIntervals ? `${summary.failedIntervals} failed` : 'passed';
  return `analysis ${verdict} over ${summary.intervals} ${summary.intervals === 1 ? 'interval' : 'intervals'}: ${summary.last.join('; ')}`;
}
