// The OpenAPI 3.1 document, written by hand next to the routes it describes; a test checks that
// every route the server registers appears here. Served at GET /openapi.json.
import type { FastifyInstance } from 'fastify';
import { CI_SIGNATURE_HEADER, CI_TIMESTAMP_HEADER } from './ciAuth.js';
import { ACTOR_HEADER } from './apiToken.js';
import { RUN_STATES } from '../lib/messages.js';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object, description: string) => ({ description, content: { 'application/json': { schema } } });
const error = (description: string) => json(ref('Error'), description);
const queryParam = (name: string, description: string, schema: object = { type: 'string' }) => ({ name, in: 'query', required: false, description, schema });
/** A required JSON body: an object with these required fields and properties, and no others. */
const jsonBody = (required: string[], properties: object) => ({ required: true, content: { 'application/json': { schema: { type: 'object', required, additionalProperties: false, properties } } } });
const headerParam = (name: string, description: string, required = false) => ({ name, in: 'header', required, description, schema: { type: 'string' } });

const commonErrors = {
  400: error('The request is malformed; the message says which field and what is expected.'),
  413: error('The body is larger than 1 MiB.'),
  429: { ...error('Too many requests from this address; see Retry-After.'), headers: { 'Retry-After': { schema: { type: 'integer' }, description: 'seconds' } } },
  500: error('Internal error (details only in the server log).'),
};
const idempotencyKey = headerParam('Idempotency-Key', 'The same key finds the run the first request started instead of starting another.');
const writeSecurity = [{ apiToken: [] }];
const writeErrors = { ...commonErrors, 401: error('Missing or wrong bearer token.'), 403: error('The write API is disabled (no API token configured), or the token lacks the scope this route needs.') };

/** Temporal's codec server protocol (api/routes/codec.ts), for the Temporal UI and CLI. */
function codecPaths() {
  const payloads = { type: 'object', required: ['payloads'], properties: { payloads: { type: 'array', maxItems: 1000, items: { type: 'object', properties: { metadata: { type: 'object', additionalProperties: { type: 'string', contentEncoding: 'base64' } }, data: { type: 'string', contentEncoding: 'base64' } } } } } };
  const path = (action: string, summary: string) => ({
    post: {
      summary, security: writeSecurity,
      requestBody: { required: true, content: { 'application/json': { schema: payloads } } },
      responses: { 200: json(payloads, `The payloads, ${action}d.`), 503: error('Payload encryption is off (FLIGHTDECK_PAYLOAD_KEYS not set).'), ...writeErrors },
    },
    options: { summary: 'CORS preflight of the Temporal UI (TEMPORAL_UI_URL)', responses: { 204: { description: 'Allowed methods and headers.' } } },
  });
  return {
    '/codec/decode': path('decode', 'Decrypt Temporal payloads (Temporal UI and CLI codec endpoint)'),
    '/codec/encode': path('encode', 'Encrypt Temporal payloads (Temporal UI and CLI codec endpoint)'),
  };
}

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'Flightdeck API',
    version: '0.1.0',
    description: 'Deploy triggers (GitHub and generic CI webhooks, Slack), run status, and a write API for deploys, rollbacks and backups. See docs/api.md.',
  },
  components: {
    securitySchemes: {
      apiToken: { type: 'http', scheme: 'bearer', description: 'FLIGHTDECK_API_TOKEN' },
      githubSignature: { type: 'apiKey', in: 'header', name: 'X-Hub-Signature-256', description: 'sha256=HMAC-SHA256(GITHUB_WEBHOOK_SECRET, raw body) in hex' },
      ciSignature: { type: 'apiKey', in: 'header', name: CI_SIGNATURE_HEADER, description: `v0=HMAC-SHA256(CI_WEBHOOK_SECRET, "v0:" + ${CI_TIMESTAMP_HEADER} + ":" + raw body) in hex; the timestamp within 300 s of now` },
      ciOidc: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A GitHub Actions OIDC token with audience CI_OIDC_AUDIENCE' },
      slackSignature: { type: 'apiKey', in: 'header', name: 'X-Slack-Signature', description: "Slack's v0 request signature" },
    },
    schemas: {
      Error: { type: 'object', required: ['error', 'message'], properties: { error: { type: 'string', examples: ['bad_request'] }, message: { type: 'string' } } },
      DeployTarget: {
        type: 'object', required: ['app', 'environment'], additionalProperties: false,
        properties: {
          app: { type: 'string', pattern: '^[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?$' },
          environment: { type: 'string', pattern: '^[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?$' },
          sha: { type: 'string', pattern: '^[0-9a-f]{7,64}$' },
          ref: { type: 'string', description: 'a git branch, tag or ref' },
          image: { type: 'string', description: 'a prebuilt image: skips test and build' },
          breakGlass: {
            type: 'object', required: ['reason'], additionalProperties: false, properties: { reason: { type: 'string', maxLength: 500 } },
            description: 'POST /deploys only: deploy through a freeze window (the token must be on the environment\'s breakGlass list)',
          },
        },
      },
      CiDeploy: { allOf: [ref('DeployTarget'), { required: ['sha'] }] },
      Enqueued: {
        type: 'object', required: ['workflowId', 'disposition'],
        properties: { workflowId: { type: 'string' }, disposition: { enum: ['started', 'queued', 'duplicate', 'accepted'] } },
      },
      GitHubAccepted: {
        allOf: [ref('Enqueued'), { type: 'object', properties: { runs: { type: 'array', items: { allOf: [ref('Enqueued'), { properties: { app: { type: 'string' }, environment: { type: 'string' } } }] } } } }],
      },
      Started: { type: 'object', required: ['workflowId'], properties: { workflowId: { type: 'string' } } },
      RunSummary: {
        type: 'object', required: ['workflowId', 'runId', 'kind', 'status', 'startedAt'],
        properties: {
          workflowId: { type: 'string' }, runId: { type: 'string' }, kind: { enum: ['deploy', 'rollback', 'backup', 'restore', 'migrate', 'incident', 'scale'] },
          app: { type: 'string' }, environment: { type: 'string' }, database: { type: 'string' },
          status: { type: 'string', description: 'RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT' },
          state: { type: 'string', description: "the run's own state (queued, running, waiting-for-approval, waiting-for-decision, succeeded, failed, rolled-back, cancelled, superseded, refused); absent for runs started before Flightdeck's search attributes" },
          verdict: { type: 'string', description: "deploys and rollbacks: Flightdeck's verdict from the release ledger (verified, rolled-back, failed, kept, deploying)" },
          startedAt: { type: 'string', format: 'date-time' }, closedAt: { type: 'string', format: 'date-time' },
        },
      },
      LedgerEntry: {
        type: 'object', required: ['id', 'kind', 'image', 'trigger', 'startedAt', 'verdict'],
        description: 'An image Flightdeck deployed or rolled back to (or found serving), with its verdict.',
        properties: {
          id: { type: 'string', description: 'the run that wrote it' }, kind: { enum: ['deploy', 'rollback', 'adopted'] },
          image: { type: 'string' }, commit: { type: 'string' }, releaseVersion: { type: 'integer' },
          flyConfig: { type: 'object', properties: { content: { type: 'string' }, sha256: { type: 'string' } } },
          trigger: { type: 'object' }, startedAt: { type: 'string', format: 'date-time' }, finishedAt: { type: 'string', format: 'date-time' },
          verdict: { enum: ['deploying', 'verified', 'verified-by-probe', 'unverified', 'failed', 'rolled-back', 'kept'] },
          stage: { type: 'string' }, reason: { type: 'string' }, rolledBackTo: { type: 'string' }, forcedBecause: { type: 'string' },
        },
      },
      RunStatus: {
        type: 'object', required: ['kind', 'workflowId', 'state', 'trigger', 'startedAt', 'stages', 'facts'],
        description: "The run's status query: stages with timings, current stage, outcome, facts.",
        properties: {
          kind: { type: 'string' }, workflowId: { type: 'string' }, state: { type: 'string' }, app: { type: 'string' }, environment: { type: 'string' },
          database: { type: 'string' }, trigger: { type: 'object' }, startedAt: { type: 'string' }, finishedAt: { type: 'string' },
          currentStage: { type: 'string' }, stages: { type: 'array', items: { type: 'object' } }, outcome: { type: 'string' },
          facts: { type: 'object' }, checks: { type: 'array', items: { type: 'object' } },
        },
      },
    },
  },
  paths: {
    '/webhooks/github': {
      post: {
        summary: 'GitHub webhook: push, workflow_run (completed, success), deployment, ping',
        security: [{ githubSignature: [] }],
        parameters: [
          headerParam('X-GitHub-Event', 'the event name', true), headerParam('X-GitHub-Delivery', 'the delivery id (re-deliveries repeat it)', true),
          headerParam('X-GitHub-Hook-ID', 'the webhook id; with the delivery id, the dedupe key'),
        ],
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object' } }, 'application/x-www-form-urlencoded': { schema: { type: 'object', properties: { payload: { type: 'string' } } } } } },
        responses: {
          200: json({ type: 'object', properties: { disposition: { enum: ['pong', 'ignored'] }, reason: { type: 'string' }, zen: { type: 'string' } } }, 'A ping, or an event that deploys nothing (the reason says why).'),
          202: json(ref('GitHubAccepted'), 'Accepted durably (disposition accepted), before any worker sees it: GET /runs/{workflowId} says what became of it (queued, started, superseded, or refused by a lock). A re-delivery answers the same workflowId and deploys nothing more.'),
          409: error('A freeze window is in force: the message says until when and why. Nothing was accepted.'),
          401: error('Missing or wrong X-Hub-Signature-256.'),
          503: error('GITHUB_WEBHOOK_SECRET is not set.'),
          ...commonErrors,
        },
      },
    },
    '/webhooks/ci': {
      post: {
        summary: 'Generic CI trigger: deploy a commit',
        security: [{ ciSignature: [] }, { ciOidc: [] }],
        parameters: [headerParam(CI_TIMESTAMP_HEADER, 'Unix seconds, with the HMAC signature'), idempotencyKey],
        requestBody: { required: true, content: { 'application/json': { schema: ref('CiDeploy') } } },
        responses: {
          202: json(ref('Enqueued'), 'Accepted durably (disposition accepted): GET /runs/{workflowId} says what became of it, including a refusal by a lock. A replay answers the same workflowId.'),
          409: error('A freeze window is in force: the message says until when and why. Nothing was accepted.'),
          401: error('Missing, wrong, stale or future signature; or an OIDC token with the wrong issuer, audience or signature, or expired.'),
          403: error("The OIDC token's repository or ref is not the one configured for this app and environment."),
          ...commonErrors,
        },
      },
    },
    '/slack/commands': {
      post: {
        summary: 'Slack slash command (/deploy …): answered within 3 s, continued asynchronously',
        security: [{ slackSignature: [] }],
        requestBody: { required: true, content: { 'application/x-www-form-urlencoded': { schema: { type: 'object' } } } },
        responses: { 200: json({ type: 'object' }, 'An ephemeral reply.'), 401: error('Bad Slack signature.'), ...commonErrors },
      },
    },
    '/slack/interactions': {
      post: {
        summary: 'Slack button presses (Approve, Reject, Roll back, Keep)',
        security: [{ slackSignature: [] }],
        requestBody: { required: true, content: { 'application/x-www-form-urlencoded': { schema: { type: 'object', properties: { payload: { type: 'string' } } } } } },
        responses: { 200: { description: 'Acknowledged.' }, 401: error('Bad Slack signature.'), ...commonErrors },
      },
    },
    '/apps': {
      get: {
        summary: 'Configured apps, their environments, and databases',
        responses: { 200: json({ type: 'object', properties: { apps: { type: 'array', items: { type: 'object' } }, databases: { type: 'array', items: { type: 'object' } } } }, 'The configuration (no secrets).'), ...commonErrors },
      },
    },
    '/apps/{app}/environments/{env}/releases': {
      get: {
        summary: "The environment's release ledger, newest first: what ran, from which commit, and Flightdeck's verdict",
        parameters: [
          { name: 'app', in: 'path', required: true, schema: { type: 'string' } },
          { name: 'env', in: 'path', required: true, schema: { type: 'string' } },
        ],
        responses: {
          200: json({ type: 'object', properties: { app: { type: 'string' }, environment: { type: 'string' }, releases: { type: 'array', items: ref('LedgerEntry') } } }, 'The ledger (empty before the first deploy).'),
          404: error('No such app or environment in the configuration.'),
          503: error('No worker answered the ledger query in time.'),
          ...commonErrors,
        },
      },
    },
    '/runs': {
      get: {
        summary: 'Runs, newest first',
        parameters: [
          queryParam('app', 'an app name'), queryParam('env', 'an environment name'),
          queryParam('kind', 'the kind of run', { enum: ['deploy', 'rollback', 'backup', 'restore', 'migrate', 'incident', 'scale'] }),
          queryParam('db', 'a database name'),
          queryParam('state', "only runs in this state (runs started before Flightdeck's search attributes have none)", { enum: [...RUN_STATES] }),
          queryParam('limit', 'at most this many (1-100, default 20)', { type: 'integer' }),
        ],
        responses: { 200: json({ type: 'object', properties: { runs: { type: 'array', items: ref('RunSummary') } } }, 'The runs.'), ...commonErrors },
      },
    },
    '/runs/{id}': {
      get: {
        summary: "A run's status (its status query)",
        description: 'The id is a workflow id, which contains slashes: send it URL-encoded (/runs/deploy%2Fshop%2Fstaging%2F…) or as is (/runs/deploy/shop/staging/…).',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: {
          200: json(ref('RunStatus'), 'The status.'), 404: error('No such run.'),
          503: error('No worker answered the status query within 5 s.'), ...commonErrors,
        },
      },
    },
    '/backups': {
      get: {
        summary: "A database's catalogued backups, newest first",
        parameters: [{ ...queryParam('db', 'a configured database name'), required: true }],
        responses: { 200: json({ type: 'object', properties: { backups: { type: 'array', items: { type: 'object' } } } }, 'The backups.'), 404: error('Unknown database.'), ...commonErrors },
      },
      post: {
        summary: 'Start a backup now',
        security: writeSecurity,
        parameters: [headerParam(ACTOR_HEADER, 'the person the caller acts for (audit log)'), idempotencyKey],
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['database'], additionalProperties: false, properties: { database: { type: 'string' } } } } } },
        responses: { 202: json(ref('Started'), 'The backup started.'), ...writeErrors },
      },
    },
    ...codecPaths(),
    '/deploys': {
      post: {
        summary: 'Queue a deploy',
        security: writeSecurity,
        parameters: [headerParam(ACTOR_HEADER, 'the person the caller acts for (audit log)'), idempotencyKey],
        requestBody: { required: true, content: { 'application/json': { schema: ref('DeployTarget') } } },
        responses: { 202: json(ref('Enqueued'), 'The deploy was queued.'), 409: error('The app and environment are locked, or frozen by a freeze window (the message says who or until when, and why).'), ...writeErrors },
      },
    },
    '/promotions': {
      post: {
        summary: 'Deploy to one environment exactly the image (and fly.toml) another verified, from its release ledger',
        security: writeSecurity,
        parameters: [headerParam(ACTOR_HEADER, 'the person the caller acts for (audit log)')],
        requestBody: jsonBody(['app', 'from', 'to'], {
          app: { type: 'string' }, from: { type: 'string', examples: ['staging'] }, to: { type: 'string', examples: ['production'] },
          image: { type: 'string', description: 'a specific image `from` verified; default its newest verified release' },
          breakGlass: { type: 'object', required: ['reason'], properties: { reason: { type: 'string' } } },
        }),
        responses: {
          202: json({ allOf: [ref('Enqueued'), { type: 'object', properties: { image: { type: 'string' } } }] }, 'The promoted deploy was queued in `to`; its approval applies.'),
          409: error('Refused, nothing started: `from` has not verified that image (or any), the soak time is not over, `to` takes promotions from another environment, or `to` is locked or frozen.'),
          ...writeErrors,
        },
      },
    },
    '/rollbacks': {
      post: {
        summary: 'Roll back to the last known good release (newest verified in the ledger), a release version or an image',
        security: writeSecurity,
        parameters: [headerParam(ACTOR_HEADER, 'the person the caller acts for (audit log)')],
        requestBody: jsonBody(['app', 'environment'], {
          app: { type: 'string' }, environment: { type: 'string' }, image: { type: 'string' }, releaseVersion: { type: 'integer', minimum: 1 }, reason: { type: 'string' },
          force: { type: 'boolean', description: 'go to a target whose ledger verdict is failed anyway; needs image or releaseVersion and a reason' },
        }),
        responses: { 202: json(ref('Started'), 'The rollback started.'), ...writeErrors },
      },
    },
    '/restarts': {
      post: {
        summary: 'The incident runbook: assess, restart machines one by one (each passing its checks), verify, roll back or ask if still failing',
        security: writeSecurity,
        parameters: [headerParam(ACTOR_HEADER, 'the person the caller acts for (audit log)')],
        requestBody: jsonBody(['app', 'environment'], { app: { type: 'string' }, environment: { type: 'string' }, reason: { type: 'string' } }),
        responses: { 202: json(ref('Enqueued'), 'Queued in the environment\'s deploy queue (`duplicate`: the runbook already running or queued there).'), ...writeErrors },
      },
    },
    '/scales': {
      post: {
        summary: 'Stop (scale to 0, remembering the per-region counts), start (bring those back) or scale to a count, with verification',
        security: writeSecurity,
        parameters: [headerParam(ACTOR_HEADER, 'the person the caller acts for (audit log)')],
        requestBody: jsonBody(['app', 'environment', 'action'], {
          app: { type: 'string' }, environment: { type: 'string' }, action: { type: 'string', enum: ['stop', 'start', 'scale'] },
          count: { type: 'integer', minimum: 0, maximum: 100, description: 'scale only' }, region: { type: 'string', examples: ['ams'], description: 'scale only' },
          reason: { type: 'string' },
        }),
        responses: { 202: json(ref('Enqueued'), 'Queued in the environment\'s deploy queue.'), ...writeErrors },
      },
    },
    '/healthz': { get: { summary: 'The process is up', responses: { 200: json({ type: 'object' }, 'ok') } } },
    '/readyz': { get: { summary: 'Temporal is reachable and the config loads', responses: { 200: json({ type: 'object' }, 'ready'), 503: error('Not ready; the message says why.') } } },
    '/metrics': { get: { summary: 'Prometheus metrics', responses: { 200: { description: 'text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } } } } },
    '/openapi.json': { get: { summary: 'This document', responses: { 200: json({ type: 'object' }, 'OpenAPI 3.1') } } },
  },
} as const;

export async function openApiRoutes(app: FastifyInstance): Promise<void> {
  app.get('/openapi.json', async () => openApiDocument);
}
