// Liveness, readiness and the Prometheus scrape.
import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from '../deps.js';
import { serviceUnavailable } from '../httpErrors.js';

/** A load balancer's probe gives up after a few seconds; answer before it does. */
const READINESS_TIMEOUT_MS = 3000;

export async function healthRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async () => {
    // Probes are unauthenticated: the reason goes to the log, not to whoever asks.
    try {
      deps.loadApps();
    } catch (err) {
      deps.logger.error({ err }, 'readiness: the apps config does not load');
      throw serviceUnavailable('the apps config does not load; see the server log');
    }
    try {
      // The cheapest call that proves the frontend answers for our namespace.
      await deps.client.withDeadline(Date.now() + READINESS_TIMEOUT_MS, () => deps.client.workflowService.getSystemInfo({}));
    } catch (err) {
      deps.logger.error({ err }, 'readiness: Temporal is not reachable');
      throw serviceUnavailable('Temporal is not reachable; see the server log');
    }
    return { status: 'ready' };
  });

  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
}
