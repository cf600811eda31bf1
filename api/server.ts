// The HTTP server: webhooks, the read and write API, health, metrics and the Slack routes, in one
// Fastify instance. Routes are thin: verify, validate, call lib/operations, answer.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import { readWatchedFreshness } from './backupFreshness.js';
import type { ApiDeps } from './deps.js';
import { registerBackupFreshnessMetric } from './metrics.js';
import { HttpError, errorCodeForStatus } from './httpErrors.js';
import { openApiRoutes } from './openapi.js';
import { RateLimiter } from './rateLimit.js';
import { registerRawBodyParsers } from './rawBody.js';
import { ciWebhookRoutes } from './routes/ciWebhook.js';
import { codecRoutes } from './routes/codec.js';
import { githubWebhookRoutes } from './routes/githubWebhook.js';
import { healthRoutes } from './routes/health.js';
import { readApiRoutes } from './routes/readApi.js';
import { writeApiRoutes } from './routes/writeApi.js';
import { slackRoutes } from './slack/plugin.js';
import { clientAddress } from './validation.js';
import { isTemporalUnavailable } from '../lib/temporalConnection.js';

export const BODY_LIMIT_BYTES = 1024 * 1024;
/** A Temporal server restart takes seconds; GitHub does not retry, CI and people do. */
const TEMPORAL_RETRY_AFTER_SECONDS = 5;

/** Probes and scrapes come from the same few addresses all day; they are not rate limited. */
const UNLIMITED_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

export async function buildServer(deps: ApiDeps): Promise<FastifyInstance> {
  // Typed as Fastify's base logger so the instance is the plain FastifyInstance plugins expect.
  const loggerInstance: FastifyBaseLogger = deps.logger;
  // Per-request lines would drown the audit trail; request counts and timings are in /metrics.
  const app = Fastify({ bodyLimit: BODY_LIMIT_BYTES, loggerInstance, logController: new LogController({ disableRequestLogging: true }) });
  recordRoutes(app);
  installErrorHandling(app, deps);
  installRateLimit(app, deps);
  installRequestMetrics(app, deps);
  registerBackupFreshnessMetric(deps.metrics, () => readWatchedFreshness(deps.client, Object.keys(deps.loadApps().databases)));

  // Each scope is an encapsulated plugin: raw-body parsers and the token hook apply only inside.
  await app.register(async (scope) => {
    registerRawBodyParsers(scope);
    await githubWebhookRoutes(scope, deps);
    await ciWebhookRoutes(scope, deps);
  });
  await app.register(async (scope) => slackRoutes(scope, deps));
  await app.register(async (scope) => writeApiRoutes(scope, deps));
  await app.register(async (scope) => readApiRoutes(scope, deps));
  await app.register(async (scope) => healthRoutes(scope, deps));
  await app.register(async (scope) => openApiRoutes(scope));
  await app.register(async (scope) => codecRoutes(scope, deps));
  return app;
}

export interface RegisteredRoute { method: string; url: string }
const routesByServer = new WeakMap<FastifyInstance, RegisteredRoute[]>();

/** Every route the server answers (HEAD twins of GET left out); the OpenAPI test holds the document to it. */
export function registeredRoutes(app: FastifyInstance): RegisteredRoute[] {
  return routesByServer.get(app) ?? [];
}

function recordRoutes(app: FastifyInstance): void {
  const routes: RegisteredRoute[] = [];
  routesByServer.set(app, routes);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) if (method !== 'HEAD') routes.push({ method, url: route.url });
  });
}

function installErrorHandling(app: FastifyInstance, deps: ApiDeps): void {
  app.setErrorHandler((err: FastifyError | HttpError, request, reply) => {
    if (err instanceof HttpError) {
      return reply.code(err.statusCode).headers(err.headers).send({ error: err.error, message: err.message });
    }
    if (isTemporalUnavailable(err)) {
      // A restart of the Temporal server: the caller (CI, GitHub's redelivery, a person) should try again.
      deps.logger.warn({ err, route: request.routeOptions.url, method: request.method }, 'Temporal is unreachable');
      return reply.code(503).header('retry-after', String(TEMPORAL_RETRY_AFTER_SECONDS)).send({
        error: 'unavailable',
        message: `Temporal is unreachable (its server may be restarting); retry in ${TEMPORAL_RETRY_AFTER_SECONDS} s.`,
      });
    }
    const statusCode = typeof err.statusCode === 'number' && err.statusCode >= 400 ? err.statusCode : 500;
    if (statusCode >= 500) {
      deps.logger.error({ err, route: request.routeOptions.url, method: request.method }, 'request failed');
      return reply.code(statusCode).send({ error: 'internal', message: 'internal error; see the server log' });
    }
    // Fastify's own 4xx (too large, invalid JSON, unsupported media type) carry a safe message.
    return reply.code(statusCode).send({ error: errorCodeForStatus(statusCode), message: err.message });
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({ error: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}; see GET /openapi.json` });
  });
}

function installRateLimit(app: FastifyInstance, deps: ApiDeps): void {
  const limiter = new RateLimiter(deps.env.FLIGHTDECK_API_RATE_LIMIT_PER_MINUTE, deps.env.FLIGHTDECK_API_RATE_LIMIT_BURST, deps.now);
  app.addHook('onRequest', async (request) => {
    if (UNLIMITED_ROUTES.has(request.routeOptions.url ?? '')) return;
    const client = clientAddress(request, deps.env);
    const verdict = limiter.take(client);
    if (!verdict.isAllowed) {
      throw new HttpError(429, 'rate_limited', `too many requests from ${client}; retry in ${verdict.retryAfterSeconds} s`,
        { 'retry-after': String(verdict.retryAfterSeconds) });
    }
  });
}

function installRequestMetrics(app: FastifyInstance, deps: ApiDeps): void {
  app.addHook('onResponse', async (request, reply) => {
    deps.metrics.httpRequestDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });
}
