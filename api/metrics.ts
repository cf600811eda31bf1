// Prometheus metrics for the API. A fresh Registry per server: tests build several servers in one process.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { WatchedFreshness } from './backupFreshness.js';

export type SignatureSource = 'github' | 'ci' | 'slack';

export interface ApiMetrics {
  registry: Registry;
  /** Seconds per request, labelled with the route pattern (not the URL) and the status code. */
  httpRequestDuration: Histogram<'method' | 'route' | 'status'>;
  signatureFailures: Counter<'source'>;
  runsStarted: Counter<'kind'>;
}

export function createApiMetrics(registry: Registry = new Registry()): ApiMetrics {
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpRequestDuration: new Histogram({
      name: 'flightdeck_http_request_duration_seconds',
      help: 'HTTP requests by route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    signatureFailures: new Counter({
      name: 'flightdeck_signature_failures_total',
      help: 'Requests refused because their signature or token did not verify',
      labelNames: ['source'],
      registers: [registry],
    }),
    runsStarted: new Counter({
      name: 'flightdeck_runs_started_total',
      help: 'Runs requested through the API, webhooks and Slack',
      labelNames: ['kind'],
      registers: [registry],
    }),
  };
}

/**
 * flightdeck_backup_last_verified_timestamp_seconds{database}: when the newest verified backup was
 * taken (0: none yet), read at each scrape. Alert on `time() - … > threshold` in Prometheus too: it
 * keeps working while the worker (and with it the Slack alarm) is down.
 */
export function registerBackupFreshnessMetric(metrics: ApiMetrics, read: () => Promise<WatchedFreshness[]>): void {
  new Gauge({
    name: 'flightdeck_backup_last_verified_timestamp_seconds',
    help: 'When the newest verified backup of each database was taken (Unix seconds; 0: no verified backup)',
    labelNames: ['database'],
    registers: [metrics.registry],
    async collect() {
      this.reset();
      // A scrape while Temporal is unreachable shows no samples rather than failing the whole page.
      const readings = await read().catch(() => []);
      for (const reading of readings) {
        this.set({ database: reading.database }, reading.lastVerifiedAt ? Math.floor(Date.parse(reading.lastVerifiedAt) / 1000) : 0);
      }
    },
  });
}
