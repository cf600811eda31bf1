// Flightdeck's own HTTP probes: the health verdict and smoke checks come from here, not from
// flyctl's exit code (a deploy can "succeed" while the app serves errors).
import { readSecret, type SmokeCheck } from '../lib/config.js';
import { PermanentError, permanentFailure } from '../lib/errors.js';
import { hasMetricSample, jsonMismatch, type JsonScalar } from '../lib/jsonFields.js';
import { durationToMs } from '../lib/validate.js';
import { interruptedAttempt, withHeartbeat, type Progress } from './heartbeat.js';

export interface HealthProbeInput {
  url: string;
  consecutiveSuccesses: number;
  intervalMs: number;
  deadlineMs: number;
  requestTimeoutMs: number;
  /** Fields the JSON body must carry (health.expect.json): a 200 saying "degraded" is not healthy. */
  expectJson?: Record<string, JsonScalar>;
}

export interface HealthProbeResult {
  attempts: number;
  elapsedMs: number;
}

export interface BakeInput {
  url: string;
  durationMs: number;
  intervalMs: number;
  requestTimeoutMs: number;
  expectJson?: Record<string, JsonScalar>;
}

export interface CheckResult {
  name: string;
  isPassed: boolean;
  detail: string;
}

interface ProbeOutcome { isOk: boolean; detail: string }

async function probeOnce(url: string, timeoutMs: number, expectJson?: Record<string, JsonScalar>): Promise<ProbeOutcome> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    const isOk = response.status >= 200 && response.status < 300;
    if (!isOk || !expectJson) {
      await response.body?.cancel();
      return { isOk, detail: `HTTP ${response.status}` };
    }
    const mismatch = jsonMismatch(await response.text(), expectJson);
    return { isOk: mismatch === undefined, detail: mismatch === undefined ? `HTTP ${response.status}` : `HTTP ${response.status}, ${mismatch}` };
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    return { isOk: false, detail: cause ?? (err as Error).name };
  }
}

/** Waits ms, or less when aborted; the abort listener goes when the wait ends (a bake pauses hundreds of times). */
export const pause = (ms: number, signal: AbortSignal) => new Promise<void>((resolve) => {
  const onAbort = () => { clearTimeout(timer); resolve(); };
  const timer = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(); }, ms);
  signal.addEventListener('abort', onAbort, { once: true });
});

/** What a health probe has seen so far; time spent without a worker does not count against the deadline. */
export interface HealthProbeProgress { streak: number; attempts: number; probingMs: number; lastDetail: string }

/**
 * The probe's loop, inside an activity that heartbeats `progress` (probeHealth, the health verdict):
 * resumes from the streak and probing time a previous attempt saved; an aborted signal ends it as
 * an interrupted attempt (interruptedAttempt), never as a verdict.
 */
export async function probeUntilHealthy(input: HealthProbeInput, progress: Progress<HealthProbeProgress>): Promise<HealthProbeResult> {
  const seen = progress.resumed ?? { streak: 0, attempts: 0, probingMs: 0, lastDetail: 'no answer yet' };
  const attemptStartedAt = Date.now();
  const probingMs = () => seen.probingMs + (Date.now() - attemptStartedAt);
  let { streak, attempts, lastDetail } = seen;
  while (probingMs() < input.deadlineMs) {
    if (progress.signal.aborted) throw interruptedAttempt('the health probe');
    attempts++;
    const outcome = await probeOnce(input.url, input.requestTimeoutMs, input.expectJson);
    streak = outcome.isOk ? streak + 1 : 0;
    lastDetail = outcome.detail;
    progress.save({ streak, attempts, probingMs: probingMs(), lastDetail });
    progress.report(`${input.url}: ${outcome.detail} (${streak}/${input.consecutiveSuccesses})`);
    if (streak >= input.consecutiveSuccesses) return { attempts, elapsedMs: probingMs() };
    await pause(input.intervalMs, progress.signal);
  }
  if (progress.signal.aborted) throw interruptedAttempt('the health probe');
  throw permanentFailure(PermanentError.HealthCheckFailed,
    `${input.url} did not answer 2xx ${input.consecutiveSuccesses} times in a row within ${Math.round(input.deadlineMs / 1000)}s (last: ${lastDetail}, ${attempts} probes)`);
}

/** Where a bake is in its window: a resumed bake keeps its window, never restarts it. */
interface BakeProgress { windowStartedAt: number; probes: number }

export function createHttpActivities() {
  return {
    /** One request to the health URL (the health watch): a failure is an answer, not an error. */
    async probeHealthOnce(input: { url: string; requestTimeoutMs: number }): Promise<{ isOk: boolean; detail: string }> {
      return probeOnce(input.url, input.requestTimeoutMs);
    },

    /** N consecutive 2xx answers within the deadline, or a HealthCheckFailed naming the last answer. */
    async probeHealth(input: HealthProbeInput): Promise<HealthProbeResult> {
      return withHeartbeat<HealthProbeResult, HealthProbeProgress>('health probe', (progress) => probeUntilHealthy(input, progress));
    },

    /**
     * Keeps probing for the bake window; the first failure ends it. A resumed bake keeps the window it
     * started and probes at least once more before it can pass.
     */
    async bakeProbe(input: BakeInput): Promise<{ probes: number }> {
      return withHeartbeat<{ probes: number }, BakeProgress>('bake', async (progress) => {
        const windowStartedAt = progress.resumed?.windowStartedAt ?? Date.now();
        let probes = progress.resumed?.probes ?? 0;
        let hasProbedThisAttempt = false;
        while (!hasProbedThisAttempt || Date.now() - windowStartedAt < input.durationMs) {
          if (progress.signal.aborted) throw interruptedAttempt('the bake');
          probes++;
          hasProbedThisAttempt = true;
          const outcome = await probeOnce(input.url, input.requestTimeoutMs, input.expectJson);
          progress.save({ windowStartedAt, probes });
          progress.report(`bake probe ${probes}: ${outcome.detail}`);
          if (!outcome.isOk) {
            throw permanentFailure(PermanentError.HealthCheckFailed, `health failed during bake after ${Math.round((Date.now() - windowStartedAt) / 1000)}s: ${input.url} answered ${outcome.detail}`);
          }
          await pause(input.intervalMs, progress.signal);
        }
        return { probes };
      });
    },

    /** Runs every declared smoke check and returns each result; the workflow decides. */
    async runSmokeChecks(input: { baseUrl: string; checks: SmokeCheck[] }): Promise<CheckResult[]> {
      return withHeartbeat('smoke checks', async (progress) => {
        const results: CheckResult[] = [];
        for (const check of input.checks) {
          if (progress.signal.aborted) throw interruptedAttempt('the smoke checks');
          results.push(await runSmokeCheck(input.baseUrl, check));
          progress.report(`${results.length}/${input.checks.length} smoke checks run`);
        }
        return results;
      });
    },
  };
}

export type HttpActivities = ReturnType<typeof createHttpActivities>;

/** The request's headers, secrets read by name here (never in the workflow); or why they cannot be. */
function requestHeaders(check: SmokeCheck): Record<string, string> | string {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(check.requestHeaders ?? {})) {
    if (typeof value === 'string') {
      headers[name] = value;
      continue;
    }
    const secret = readSecret(value.secret);
    if (secret === undefined) return `header ${name}: the secret ${value.secret} is not set in the worker's environment`;
    headers[name] = `${value.prefix}${secret}`;
  }
  return headers;
}

async function runSmokeCheck(baseUrl: string, check: SmokeCheck): Promise<CheckResult> {
  const url = new URL(check.path, baseUrl).toString();
  const fail = (detail: string): CheckResult => ({ name: check.name, isPassed: false, detail: `${check.method} ${check.path}: ${detail}` });
  const headers = requestHeaders(check);
  if (typeof headers === 'string') return fail(headers);
  let response: Response;
  let body: string;
  try {
    response = await fetch(url, { method: check.method, headers, body: check.body, signal: AbortSignal.timeout(durationToMs(check.timeout)), redirect: 'manual' });
    body = await response.text();
  } catch (err) {
    return fail(`no answer (${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name})`);
  }
  if (response.status !== check.expectStatus) return fail(`expected HTTP ${check.expectStatus}, got ${response.status}`);
  for (const [header, expected] of Object.entries(check.headers ?? {})) {
    const actual = response.headers.get(header);
    if (actual === null) return fail(`header ${header} missing`);
    if (!actual.includes(expected)) return fail(`header ${header} is "${actual}", expected it to contain "${expected}"`);
  }
  if (check.bodyContains !== undefined && !body.includes(check.bodyContains)) return fail(`body does not contain "${check.bodyContains}"`);
  if (check.json) {
    const mismatch = jsonMismatch(body, { [check.json.path]: check.json.equals });
    if (mismatch) return fail(mismatch);
  }
  const absent = (check.metrics ?? []).filter((metric) => !hasMetricSample(body, metric));
  if (absent.length) return fail(`no sample of ${absent.join(', ')} in the answer`);
  return { name: check.name, isPassed: true, detail: `${check.method} ${check.path}: HTTP ${response.status}` };
}
