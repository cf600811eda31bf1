// Builds the real API server (fastify.inject, no socket) against the run's Temporal dev server,
// with its own config, clock, metrics registry and a captured log, plus request-signing helpers.
import { Writable } from 'node:stream';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect } from 'vitest';
import { buildServer } from '../../api/server.js';
import type { ApiDeps } from '../../api/deps.js';
import { createApiMetrics } from '../../api/metrics.js';
import { hmacSha256Hex } from '../../api/signatures.js';
import { loadEnvConfig, parseAppsConfig, type AppsConfig } from '../../lib/config.js';
import { createLogger } from '../../lib/log.js';
import type { RunStatus } from '../../lib/messages.js';
import { deployQueueId, runStatus } from '../../lib/operations.js';
import type { DeployWorld } from '../helpers/deployWorld.js';
import { waitUntil } from '../deploy/support.js';
import type { WorkflowTestKit } from '../helpers/temporal.js';

export const GITHUB_SECRET = 'gh-webhook-secret-for-tests-5b1f';
export const GITHUB_PREVIOUS_SECRET = 'gh-webhook-old-secret-for-tests-77aa';
export const CI_SECRET = 'ci-webhook-secret-for-tests-0c3e';
export const API_TOKEN = 'fd-api-token-for-tests-9e2d';

export interface ApiHarness {
  server: FastifyInstance;
  deps: ApiDeps;
  /** Every log line the server wrote, parsed. */
  logLines: Array<Record<string, unknown>>;
}

export async function buildTestServer(options: {
  client: Client; taskQueue: string; apps: () => AppsConfig; env?: Record<string, string>; now?: () => number;
}): Promise<ApiHarness> {
  const logLines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logLines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const env = loadEnvConfig({
    GITHUB_WEBHOOK_SECRET: GITHUB_SECRET, GITHUB_WEBHOOK_SECRET_PREVIOUS: GITHUB_PREVIOUS_SECRET, CI_WEBHOOK_SECRET: CI_SECRET,
    FLIGHTDECK_API_TOKEN: API_TOKEN, FLIGHTDECK_API_RATE_LIMIT_PER_MINUTE: '100000', FLIGHTDECK_API_RATE_LIMIT_BURST: '10000',
    ...options.env,
  });
  const deps: ApiDeps = {
    client: options.client, taskQueue: options.taskQueue, env, loadApps: options.apps,
    logger: createLogger({ level: 'info', name: 'flightdeck-api-test', destination }), metrics: createApiMetrics(), now: options.now ?? Date.now,
  };
  const server = await buildServer(deps);
  return { server, deps, logLines };
}

export interface ApiWithWorker {
  readonly api: ApiHarness;
  /** Waits for the run to finish (succeeded or not) and answers its final status. */
  waitForRun(workflowId: string): Promise<RunStatus>;
}

/**
 * One real worker (the simulator's activities) and one server on its task queue for the whole file.
 * `env` is read in beforeAll, after the file's own earlier hooks (e.g. a JWKS server) have run.
 */
export function useApiWithWorker(kit: WorkflowTestKit, world: DeployWorld, options: { apps?: () => AppsConfig; env?: () => Record<string, string> } = {}): ApiWithWorker {
  let worker: Worker | undefined;
  let workerRun: Promise<void> | undefined;
  let api: ApiHarness | undefined;
  beforeAll(async () => {
    const taskQueue = kit.uniqueId('api');
    // The worker reads the same apps file as the API (it lists backups for it).
    worker = await kit.createWorker(taskQueue, world.activities(options.apps ? { loadAppsConfig: options.apps } : {}));
    workerRun = worker.run();
    api = await buildTestServer({ client: kit.client, taskQueue, apps: options.apps ?? (() => parseAppsConfig({ apps: world.apps })), env: options.env?.() });
  });
  afterAll(async () => {
    worker?.shutdown();
    await workerRun;
  });
  return {
    get api() {
      if (!api) throw new Error('the API is used before beforeAll ran');
      return api;
    },
    async waitForRun(workflowId) {
      // A webhook's run is accepted before its queue has seen it, and may wait behind another deploy.
      const notStarted = await waitUntil(`${workflowId} to start, or to be turned down`, async () => {
        const status = await runStatus(kit.client, workflowId);
        if (status.state === 'superseded' || status.state === 'refused') return status;
        await kit.client.workflow.getHandle(workflowId).describe();
        return null;
      });
      if (notStarted) return notStarted;
      await kit.client.workflow.getHandle(workflowId).result().catch(() => undefined);
      return runStatus(kit.client, workflowId);
    },
  };
}

export function gitHubSignature(body: string, secret = GITHUB_SECRET): string {
  return `sha256=${hmacSha256Hex(secret, body)}`;
}

/** Headers for a CI webhook signed with CI_SECRET at the given time (Unix seconds). */
export function ciSignatureHeaders(body: string, timestampSeconds = Math.floor(Date.now() / 1000), secret = CI_SECRET): Record<string, string> {
  return {
    'content-type': 'application/json',
    'x-flightdeck-timestamp': String(timestampSeconds),
    'x-flightdeck-signature': `v0=${hmacSha256Hex(secret, `v0:${timestampSeconds}:${body}`)}`,
  };
}

/** Nothing was started for this app and environment: its deploy queue workflow does not exist. */
export async function expectNoDeployStarted(client: Client, app: string, environment: string): Promise<void> {
  await expect(client.workflow.getHandle(deployQueueId(app, environment)).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
}

export function auditLines(harness: ApiHarness): Array<Record<string, unknown>> {
  return harness.logLines.filter((line) => line.audit === true);
}
