// Reading a JSON answer the way the runbooks' `curl … | jq .status` does: dotted paths into a body,
// and the fields an answer must carry (a health endpoint answering 200 with "degraded" is not healthy).

export type JsonScalar = string | number | boolean | null;

/** The value at a dotted path ("checks.postgres.status"), or undefined when any step is missing. */
export function valueAtPath(document: unknown, dottedPath: string): unknown {
  return dottedPath.split('.').reduce<unknown>((node, key) => (node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined), document);
}

/**
 * Why the body does not carry the expected fields (the first mismatch), or undefined when it does.
 * expected: dotted path → the value it must equal.
 */
export function jsonMismatch(body: string, expected: Record<string, JsonScalar>): string | undefined {
  let document: unknown;
  try {
    document = JSON.parse(body);
  } catch {
    return 'body is not JSON';
  }
  for (const [dottedPath, value] of Object.entries(expected)) {
    const actual = valueAtPath(document, dottedPath);
    if (actual !== value) return `JSON ${dottedPath} is ${actual === undefined ? 'missing' : JSON.stringify(actual)}, expected ${JSON.stringify(value)}`;
  }
  return undefined;
}

/** Whether a Prometheus text exposition has at least one sample of the metric (by exact name). */
export function hasMetricSample(exposition: string, metric: string): boolean {
  return exposition.split('\n').some((line) => line.startsWith(metric) && /^[{ ]/.test(line.slice(metric.length)));
}
