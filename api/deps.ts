// What the HTTP server needs from the outside world, injected so tests can build several servers
// against the real Temporal dev server with their own config, clock and metrics registry.
import type { Client } from '@temporalio/client';
import type { AppsConfig, EnvConfig } from '../lib/config.js';
import type { Logger } from '../lib/log.js';
import type { ApiMetrics } from './metrics.js';

export interface ApiDeps {
  client: Client;
  taskQueue: string;
  env: EnvConfig;
  /** Reads the apps config; called per request so an edited file is picked up without a restart. */
  loadApps: () => AppsConfig;
  logger: Logger;
  metrics: ApiMetrics;
  /** Milliseconds since the epoch; injectable so signature-window tests control the clock. */
  now: () => number;
}
