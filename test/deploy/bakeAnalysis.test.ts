// The bake reads what the runbooks read after a deploy: the app's metrics in a real Prometheus
// (scraping the simulated machines every second) and its logs, against the window before the deploy.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { RunStatus } from '../../lib/messages.js';
import type { SimAppManifest } from '../../sim/testing.js';
import { useDeployWorld, type TestApp } from '../helpers/deployWorld.js';
import { prometheusUrl, waitForSample } from '../helpers/prometheus.js';
import { useWorkflowTestKit } from '../helpers/temporal.js';
import { deployPrebuiltImage, machineImages } from './support.js';

const kit = useWorkflowTestKit(fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)));
const world = useDeployWorld(kit, { isScraped: true });

const TRAFFIC = { requestsPerSecond: 40, latencyMs: 20 };
const HEALTHY: SimAppManifest = { traffic: { ...TRAFFIC, errorRate: 0 } };

/** An app whose current release Prometheus already has a request rate for: the baseline the bake compares with. */
async function analysedApp(analysis: Record<string, unknown>, options: { bake?: string; needsBaseline?: boolean } = {}): Promise<TestApp> {
  const app = await world.createApp({
    machines: 1,
    image: HEALTHY,
    environment: {
      bake: options.bake ?? '4s',
      analysis: { prometheus: { url: prometheusUrl() }, interval: '1s', window: '3s', failedIntervals: 2, logs: false, ...analysis },
    },
  });
  if (options.needsBaseline ?? true) await waitForSample(`sum(rate(http_requests_total{app="${app.name}"}[3s]))`, (rate) => rate > 0);
  return app;
}

const deployImage = (app: TestApp, behaviour: SimAppManifest) => deployPrebuiltImage(kit, world, app, behaviour);

const bakeOf = (status: RunStatus) => status.stages.find((s) => s.name === 'bake');

// Each test has its own app (and task queue): they run side by side, up to the config's maxConcurrency.
describe.concurrent('bake analysis', () => {
  it('rolls back a release whose error rate rises during the bake', async () => {
    const app = await analysedApp({});
    const { status } = await deployImage(app, { traffic: { ...TRAFFIC, errorRate: 0.3 } });
    expect(bakeOf(status)?.state).toBe('failed');
    expect(status.outcome).toMatch(/bake analysis failed in 2 of \d intervals: error ratio \d+\.\d\d% \(before the deploy 0\.00%\), above 1\.00%/);
    expect(status.state).toBe('rolled-back');
    expect(await machineImages(world.sim, app)).toEqual([app.initialImage]);
  });

  it('passes a release that stays healthy, with the figures it judged', async () => {
    const app = await analysedApp({});
    const { status, image } = await deployImage(app, HEALTHY);
    expect(status.state).toBe('succeeded');
    expect(bakeOf(status)?.detail).toMatch(/analysis passed over 4 intervals: error ratio 0\.00% \(before the deploy 0\.00%\); p99 latency \d+ms/);
    expect(await machineImages(world.sim, app)).toEqual([image]);
  });

  it('reports metrics that return nothing as inconclusive and passes the bake by default', async () => {
    const app = await analysedApp({ requestsMetric: 'absent_requests_total', latencyMetric: 'absent_duration_seconds' }, { bake: '2s', needsBaseline: false });
    const { status } = await deployImage(app, HEALTHY);
    expect(status.state).toBe('succeeded');
    expect(bakeOf(status)?.detail).toMatch(/analysis inconclusive \(no data\) over 2 intervals: error ratio: no data; p99 latency: no data/);
  });

  it('fails the bake on missing metrics when the environment says noData: fail', async () => {
    const app = await analysedApp({ requestsMetric: 'absent_requests_total', latencyMetric: 'absent_duration_seconds', noData: 'fail' }, { bake: '2s', needsBaseline: false });
    const { status } = await deployImage(app, HEALTHY);
    expect(status.outcome).toMatch(/bake analysis failed in 2 of 2 intervals: error ratio: no data; p99 latency: no data/);
    expect(status.state).toBe('rolled-back');
  });

  it('rolls back a release that logs panics, with redacted and escaped sample lines in the thread', async () => {
    const app = await analysedApp({ prometheus: undefined, logs: { maxIncrease: 2 } }, { bake: '2s', needsBaseline: false });
    const { status } = await deployImage(app, { logs: { everyMs: 100, lines: [{ level: 'error', message: 'panic: nil map <!channel>' }] } });
    expect(status.outcome).toMatch(/bake analysis failed in 2 of 2 intervals: \d+ log lines matching error\|fatal\|panic \(none seen before the deploy; up to 2 allowed\)/);
    expect(status.state).toBe('rolled-back');
    const samples = world.slack.messages.find((m) => m.threadTs && m.text.startsWith('Sample log lines:'));
    expect(samples?.text).toContain('panic: nil map &lt;!channel&gt;');
  });
});
