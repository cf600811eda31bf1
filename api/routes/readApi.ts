// The read API: configured apps, past and current runs (Temporal visibility), a run's status query.
import { isGrpcDeadlineError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { requestFields, resolveTarget, type AppsConfig } from '../../lib/config.js';
import { RUN_STATES, type RunKind, type RunStatus } from '../../lib/messages.js';
import { runStatus } from '../../lib/operations.js';
import { readLedger, withLedgerVerdicts } from '../../lib/releaseLedgerClient.js';
import { listRuns } from '../../lib/runHistory.js';
import { resolveDatabase } from '../../lib/databaseOperations.js';
import { listBackupsThroughWorker } from '../backupListing.js';
import type { ApiDeps } from '../deps.js';
import { requireApiToken, requireScope } from '../apiToken.js';
import { badRequest, HttpError, notFound, serviceUnavailable } from '../httpErrors.js';
import { lookUp, parseRequest } from '../validation.js';

const RUN_KINDS = ['deploy', 'rollback', 'backup', 'restore', 'migrate', 'incident', 'scale'] as const satisfies readonly RunKind[];
/** A status query needs a worker to answer; without one, say so instead of hanging. */
const STATUS_QUERY_TIMEOUT_MS = 5000;

const runsQuery = z.object({
  app: requestFields.resourceName.optional(),
  env: requestFields.resourceName.optional(),
  kind: z.enum(RUN_KINDS).optional(),
  db: requestFields.resourceName.optional(),
  state: z.enum(RUN_STATES).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
}).strict();

const backupsQuery = z.object({ db: requestFields.resourceName }).strict();
const releasesParams = z.object({ app: requestFields.resourceName, env: requestFields.resourceName }).strict();

const runId = z.string().min(1).max(400).regex(/^[\x21-\x7e]+$/, 'a workflow id such as deploy/shop/staging/abc1234-1a2b3c4d');

/** Run lists and status queries cost Temporal calls: at most this many at once per API process. */
const MAX_CONCURRENT_READS = 4;

export async function readApiRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  // Runs carry test output, lock reasons and dump locations: a token with the read scope, unless
  // public reads are explicitly turned on.
  app.addHook('onRequest', async (request) => {
    if (deps.env.FLIGHTDECK_PUBLIC_READS) return;
    requireApiToken(deps, request, 'the read API');
    requireScope(deps, request, 'read');
  });
  const readsInFlight = new Set<FastifyRequest>();
  app.addHook('preHandler', async (request) => {
    if (readsInFlight.size >= MAX_CONCURRENT_READS) throw new HttpError(429, 'rate_limited', `${MAX_CONCURRENT_READS} reads are already in progress; retry in 1 s`, { 'retry-after': '1' });
    readsInFlight.add(request);
  });
  app.addHook('onResponse', async (request) => { readsInFlight.delete(request); });
  app.get('/apps', async () => describeApps(deps.loadApps()));

  app.get('/runs', async (request) => {
    const query = parseRequest(runsQuery, request.query, 'query');
    const runs = await listRuns(deps.client, { app: query.app, environment: query.env, kind: query.kind, database: query.db, state: query.state, limit: query.limit });
    return { runs: await withLedgerVerdicts(deps.client, runs) };
  });

  app.get('/apps/:app/environments/:env/releases', async (request) => {
    const params = parseRequest(releasesParams, request.params, 'path');
    lookUp(() => resolveTarget(deps.loadApps(), params.app, params.env), 'not_found');
    try {
      const releases = await deps.client.withDeadline(Date.now() + STATUS_QUERY_TIMEOUT_MS, () => readLedger(deps.client, { app: params.app, environment: params.env }));
      return { app: params.app, environment: params.env, releases };
    } catch (err) {
      if (isGrpcDeadlineError(err)) throw serviceUnavailable(`the release ledger of ${params.app} ${params.env} did not answer within ${STATUS_QUERY_TIMEOUT_MS / 1000} s; is a worker running?`);
      throw err;
    }
  });

  app.get('/backups', async (request) => {
    const query = parseRequest(backupsQuery, request.query, 'query');
    const config = deps.loadApps();
    lookUp(() => resolveDatabase(config, query.db), 'not_found');
    return { backups: await listBackupsThroughWorker(deps.client, deps.taskQueue, query.db) };
  });

  // Workflow ids contain slashes: accepted URL-encoded (/runs/deploy%2Fshop%2F…) and as a path (/runs/deploy/shop/…).
  app.get('/runs/*', async (request) => {
    const id = parseRequest(runId, (request.params as Record<string, string>)['*'], 'run id');
    return queryStatus(deps.client, id);
  });
}

async function queryStatus(client: Client, workflowId: string): Promise<RunStatus> {
  try {
    return await client.withDeadline(Date.now() + STATUS_QUERY_TIMEOUT_MS, () => runStatus(client, workflowId));
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw notFound(`no run with id ${workflowId}; GET /runs lists them`);
    if (isGrpcDeadlineError(err)) throw serviceUnavailable(`run ${workflowId} did not answer its status query within ${STATUS_QUERY_TIMEOUT_MS / 1000} s; is a worker running?`);
    if ((err as Error).name === 'QueryNotRegisteredError') throw badRequest(`${workflowId} is not a Flightdeck run (it has no status query)`);
    throw err;
  }
}

function describeApps(config: AppsConfig) {
  return {
    apps: Object.entries(config.apps).map(([name, app]) => ({
      name,
      ...(app.github ? { github: app.github } : {}),
      environments: Object.entries(app.environments).map(([environment, env]) => ({
        name: environment, flyApp: env.flyApp, branch: env.branch, strategy: env.strategy,
        isApprovalRequired: env.approval.required, onFailure: env.onFailure,
      })),
    })),
    databases: Object.entries(config.databases).map(([name, db]) => ({ name, app: db.app, schedule: db.schedule, timezone: db.timezone })),
  };
}
