// Machines expose Prometheus metrics shaped by their image (synthetic traffic with an error rate
// and latency), the run's real Prometheus scrapes them, and `logs` shows the image's own lines.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSim, type Sim } from '../../sim/testing.js';
import { queryPrometheus, scrapedBySharedPrometheus, waitForSample } from '../helpers/prometheus.js';
import { parseConcatenatedJson } from './useSim.js';

let sim: Sim;
beforeAll(async () => { sim = await createSim({ settings: scrapedBySharedPrometheus() }); });
afterAll(async () => { await sim?.teardown(); });

describe('simulated app metrics and logs', () => {
  it('serves request totals by status and a latency histogram that the shared Prometheus scrapes', async () => {
    const app = await sim.createApp(`metrics-${process.pid}`, {
      machines: 1, image: { traffic: { requestsPerSecond: 50, errorRate: 0.2, latencyMs: 800 } },
    });
    const machineMetrics = await (await fetch(`${app.appUrl}/metrics`)).text();
    expect(machineMetrics).toMatch(/^http_request_duration_seconds_bucket\{le="\+Inf"\} \d+$/m);

    const errorRatio = await waitForSample(
      `sum(rate(http_requests_total{app="${app.name}",status=~"5.."}[3s])) / sum(rate(http_requests_total{app="${app.name}"}[3s]))`,
      (v) => v > 0);
    expect(errorRatio).toBeGreaterThan(0.1);
    expect(errorRatio).toBeLessThan(0.3);
    const [p99] = await queryPrometheus(`histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{app="${app.name}"}[3s])))`);
    expect(p99!.value).toBeGreaterThan(0.5);
    const [labels] = await queryPrometheus(`http_requests_total{app="${app.name}",status="500"}`);
    expect(labels!.metric).toMatchObject({ app: app.name, region: 'iad' });
  });

  it("prints the image's own log lines in `logs --no-tail --json`", async () => {
    const app = await sim.createApp(`logs-${process.pid}`, {
      machines: 1, image: { logs: { everyMs: 50, lines: [{ level: 'error', message: 'panic: runtime error: nil map' }, 'GET /orders 200'] } },
    });
    let entries: Array<{ level: string; message: string; meta: { Event: { Provider: string } } }> = [];
    for (let i = 0; i < 100 && !entries.some((e) => e.message.startsWith('panic:')); i++) {
      await new Promise((r) => setTimeout(r, 50));
      entries = parseConcatenatedJson((await sim.runOrThrow(['logs', '--no-tail', '--json', '-a', app.name])).stdout) as typeof entries;
    }
    expect(entries.find((e) => e.message.startsWith('panic:'))).toMatchObject({ level: 'error', meta: { Event: { Provider: 'app' } } });
  });
});
