// PromQL over HTTP for the bake analysis: each query now and at the baseline instant (just before
// the deploy). Judging is the workflow's (lib/bakeAnalysis.ts); the token is read here by name.
import { readSecret } from '../lib/config.js';
import type { MetricReading } from '../lib/bakeAnalysis.js';
import { PermanentError, permanentFailure, TransientError, transientFailure } from '../lib/errors.js';
import { redactText } from '../lib/redact.js';

export interface MetricQueryInput {
  prometheus: { url: string; tokenSecret?: string };
  queries: Array<{ name: string; promql: string }>;
  /** The instant the baseline is read at (ISO): when the deploy started. */
  baselineAt: string;
}

interface PromResponse {
  status: 'success' | 'error';
  errorType?: string;
  error?: string;
  data?: { resultType: string; result: unknown };
}

const QUERY_TIMEOUT_MS = 10_000;

function authorization(tokenSecret: string | undefined): Record<string, string> {
  if (!tokenSecret) return {};
  const token = readSecret(tokenSecret);
  if (!token) throw permanentFailure(PermanentError.ConfigInvalid, `analysis.prometheus.tokenSecret names ${tokenSecret}, which is not set in the worker's environment`);
  return { authorization: /^(FlyV1|Bearer) /.test(token) ? token : `Bearer ${token}` };
}

/** The finite sample values of an instant query's answer (vector or scalar). */
function valuesOf(data: PromResponse['data']): number[] {
  if (!data) return [];
  const samples = data.resultType === 'scalar' ? [data.result as [number, string]]
    : data.resultType === 'vector' ? (data.result as Array<{ value: [number, string] }>).map((s) => s.value) : [];
  return samples.map(([, v]) => Number(v)).filter((v) => Number.isFinite(v));
}

async function instantQuery(base: string, headers: Record<string, string>, promql: string, at?: string): Promise<{ values: number[]; error?: string }> {
  const url = new URL('api/v1/query', base.endsWith('/') ? base : `${base}/`);
  const form = new URLSearchParams({ query: promql });
  if (at) form.set('time', String(Date.parse(at) / 1000));
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' }, body: form, signal: AbortSignal.timeout(QUERY_TIMEOUT_MS) });
  } catch (err) {
    throw transientFailure(TransientError.NetworkError, `Prometheus at ${url.origin} did not answer: ${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name}`);
  }
  const text = await response.text();
  let body: PromResponse | undefined;
  try {
    body = JSON.parse(text) as PromResponse;
  } catch {
    body = undefined;
  }
  // A query Prometheus refuses (bad_data: a typo in the environment's PromQL) is that query's failure, not a retry.
  if (response.status === 400 || response.status === 422) return { values: [], error: redactText(body?.error ?? `HTTP ${response.status}`) };
  if (response.status === 401 || response.status === 403) throw permanentFailure(PermanentError.ConfigInvalid, `Prometheus at ${url.origin} refused the token (HTTP ${response.status})`);
  if (!response.ok || body?.status !== 'success') throw transientFailure(TransientError.NetworkError, `Prometheus at ${url.origin} answered HTTP ${response.status}: ${redactText(text.slice(0, 200))}`);
  return { values: valuesOf(body.data) };
}

export function createAnalysisActivities() {
  return {
    async queryBakeMetrics(input: MetricQueryInput): Promise<MetricReading[]> {
      const headers = authorization(input.prometheus.tokenSecret);
      return Promise.all(input.queries.map(async (query) => {
        const [current, baseline] = await Promise.all([
          instantQuery(input.prometheus.url, headers, query.promql),
          instantQuery(input.prometheus.url, headers, query.promql, input.baselineAt),
        ]);
        const error = current.error ?? baseline.error;
        return { name: query.name, current: current.values, baseline: baseline.values, ...(error ? { error } : {}) };
      }));
    },
  };
}

export type AnalysisActivities = ReturnType<typeof createAnalysisActivities>;
