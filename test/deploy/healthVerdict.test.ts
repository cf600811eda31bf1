// Health's one activity (verifyAppHealth, patch health-in-one-activity): Flightdeck's probe and the
// machine checks at once against the simulator; the first failure is the verdict, with the messages
// the two activities gave; a worker shutdown or a cancel is never a verdict; a retry resumes the streak.
import { ActivityCancellationDetails, ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { PermanentError } from '../../lib/errors.js';
import type { HealthVerdict } from '../../activities/healthVerdict.js';
import { WORKER_STOPPED } from '../../activities/heartbeat.js';
import { useDeployWorld, type TestApp } from '../helpers/deployWorld.js';
import { waitUntil } from './support.js';

const world = useDeployWorld();

const probe = { consecutiveSuccesses: 2, intervalMs: 100, requestTimeoutMs: 1000 };

function verify(app: TestApp, path: string, deadlineMs: number, checksDeadlineMs: number, environment = new MockActivityEnvironment()): Promise<HealthVerdict> {
  return environment.run(world.activities().verifyAppHealth, {
    ...probe, deadlineMs, url: new URL(path, app.appUrl).toString(), flyApp: app.name, checks: { deadlineMs: checksDeadlineMs, intervalMs: 100 },
  });
}

/** One machine whose /health (what its checks read) answers 500 once the app is up. */
async function appWithFailingHealth(): Promise<TestApp> {
  const app = await world.createApp({ machines: 1, image: { failHealthAfterRequests: 10 } });
  await waitUntil(`${app.name}/health answering 500`, async () => (await fetch(new URL('/health', app.appUrl))).status === 500, 30_000);
  return app;
}

/** A verdict under way (the probe keeps failing, the checks too), heartbeating. */
async function probingAFailingApp() {
  const app = await appWithFailingHealth();
  const environment = new MockActivityEnvironment();
  const heartbeats: unknown[] = [];
  environment.on('heartbeat', (details: unknown) => heartbeats.push(details));
  const running = verify(app, '/health', 60_000, 60_000, environment).catch((err: unknown) => err);
  await waitUntil('three heartbeats', () => heartbeats.length > 2, 10_000);
  return { environment, running };
}

describe.concurrent('the health verdict in one activity', () => {
  it('passes with the probe streak and every started machine\'s checks', async () => {
    const app = await world.createApp();
    const verdict = await verify(app, '/health', 10_000, 10_000);
    expect(verdict.probe.attempts).toBe(2);
    expect(verdict.checks).toMatchObject({ isAllPassing: true, failing: [] });
    expect(verdict.checks.total).toBeGreaterThanOrEqual(2);
  });

  it('fails with the machine checks\' message when the checks fail while the probe passes', async () => {
    // /health answers 500 (what the machine's checks read); the probe reads /, which answers 200.
    const app = await appWithFailingHealth();
    const failure = await verify(app, '/', 30_000, 1500).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect((failure as ApplicationFailure).type).toBe(PermanentError.HealthCheckFailed);
    expect((failure as ApplicationFailure).nonRetryable).toBe(true);
    expect((failure as ApplicationFailure).message).toMatch(/^machine checks failing: [0-9a-f]+ .*: critical/);
  });

  it('fails with the probe\'s message as soon as the probe fails, without waiting for the checks\' deadline', async () => {
    const app = await appWithFailingHealth();
    const startedAt = Date.now();
    const failure = await verify(app, '/health', 1000, 60_000).catch((err: unknown) => err);
    expect((failure as ApplicationFailure).type).toBe(PermanentError.HealthCheckFailed);
    expect((failure as ApplicationFailure).message).toMatch(/\/health did not answer 2xx 2 times in a row within 1s \(last: HTTP 500, \d+ probes\)/);
    expect(Date.now() - startedAt).toBeLessThan(15_000);
  });

  it('ends a worker shutdown as a retryable interrupted attempt, never as a verdict', async () => {
    const { environment, running } = await probingAFailingApp();
    // As the worker cancels its running activities when it shuts down: no cancel was requested.
    environment.cancel('WORKER_SHUTDOWN', new ActivityCancellationDetails({}));
    const failure = await running;
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect((failure as ApplicationFailure).type).toBe(WORKER_STOPPED);
    expect((failure as ApplicationFailure).nonRetryable).toBeFalsy();
  });

  it('ends a cancel the workflow asked for as a cancellation', async () => {
    const { environment, running } = await probingAFailingApp();
    environment.cancel('CANCELLED');
    expect(await running).toBeInstanceOf(CancelledFailure);
  });

  it('resumes the probe streak and probing time a lost attempt heartbeated', async () => {
    const app = await world.createApp();
    const resumed = { streak: 1, attempts: 7, probingMs: 4000, lastDetail: 'HTTP 200' };
    const environment = new MockActivityEnvironment({ attempt: 2, heartbeatDetails: { phase: 'health', lastLine: '', state: resumed } });
    const heartbeats: Array<{ state?: { streak: number } }> = [];
    environment.on('heartbeat', (details: { state?: { streak: number } }) => heartbeats.push(details));
    const verdict = await verify(app, '/health', 10_000, 10_000, environment);
    // One more good answer completes the streak of two; the 4 s already probed count.
    expect(verdict.probe.attempts).toBe(8);
    expect(verdict.probe.elapsedMs).toBeGreaterThanOrEqual(4000);
    expect(heartbeats.at(-1)?.state?.streak).toBe(2);
  });
});
