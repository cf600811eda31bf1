// The test run's Prometheus (started once in test/globalSetup.ts): simulated machines register
// with it through the simulator's metricsTargetsDir; tests read it through its real HTTP API.
import { inject } from 'vitest';

/** Simulator settings that make every listening machine a scrape target of the run's Prometheus. */
export function scrapedBySharedPrometheus(): { metricsTargetsDir: string } {
  return { metricsTargetsDir: inject('prometheusTargetsDir') };
}

export function prometheusUrl(): string {
  return inject('prometheusUrl');
}

/** An instant query's samples (label set and value). */
export async function queryPrometheus(promql: string): Promise<Array<{ metric: Record<string, string>; value: number }>> {
  const url = new URL('/api/v1/query', prometheusUrl());
  url.searchParams.set('query', promql);
  const response = await fetch(url);
  const body = await response.json() as { status: string; error?: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
  if (body.status !== 'success') throw new Error(`Prometheus query failed: ${body.error}`);
  return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
}

/** Polls until the query has a sample that satisfies `accept`, or throws after timeoutMs. */
export async function waitForSample(promql: string, accept: (value: number) => boolean, timeoutMs = 15_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last: number[] = [];
  for (;;) {
    last = (await queryPrometheus(promql)).map((s) => s.value);
    const found = last.find(accept);
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`${promql}: no accepted sample within ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
