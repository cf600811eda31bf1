// The only reader of process.env and of the apps config file. Everything is validated here, once;
// an invalid start lists every problem at the same time, with what was expected.
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { isTimeZone, WEEKLY_TIME } from './freezeWindows.js';
import { assertReadableSchedule } from './backupFreshnessThreshold.js';
import { registerSecretValues } from './redact.js';
import { commitSha, duration, flyAppName, flyDuration, gitRef, resourceName } from './validate.js';

export class ConfigError extends Error {
  constructor(readonly source: string, readonly problems: string[]) {
    super(`Invalid configuration in ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function problemsOf(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
}

// ---------------------------------------------------------------- environment

const optionalText = z.string().trim().min(1).optional();
const booleanFlag = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

const envSchema = z.object({
  TEMPORAL_ADDRESS: z.string().regex(/^[^\s:]+:\d+$/, 'host:port, e.g. localhost:7233').default('localhost:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('flightdeck'),
  TEMPORAL_TLS: booleanFlag.default(false),
  TEMPORAL_TLS_CERT_PATH: optionalText,
  TEMPORAL_TLS_KEY_PATH: optionalText,
  TEMPORAL_API_KEY: optionalText,
  TEMPORAL_UI_URL: z.url('a URL such as http://localhost:8233').optional(),
  FLIGHTDECK_CONFIG: z.string().min(1).default('flightdeck.yaml'),
  FLIGHTDECK_WORK_DIR: z.string().min(1).default('data/work'),
  FLYCTL_PATH: z.string().min(1).default('flyctl'),
  FLIGHTDECK_RUNNER_TASK_QUEUE: z.string().min(1).optional()
    .describe('checkouts, tests and smoke commands go to this queue, served by a secretless runner (unset: the worker\'s own queue)'),
  FLIGHTDECK_DEPLOY_TASK_QUEUE: z.string().min(1).optional()
    .describe('builds and rollouts (fly deploy) go to this queue, with slots of their own (unset: the worker\'s own queue; npm run worker serves <TEMPORAL_TASK_QUEUE>-deploys by default)'),
  FLIGHTDECK_DATABASE_TASK_QUEUE: z.string().min(1).optional()
    .describe('dumps, restores, verifications and migrations go to this queue, with slots of their own (unset: the worker\'s own queue; npm run worker serves <TEMPORAL_TASK_QUEUE>-database by default)'),
  FLIGHTDECK_DEPLOY_MAX_ACTIVITIES: z.coerce.number('a whole number, e.g. 20').int().min(1).default(20)
    .describe('builds and rollouts one worker runs at once, on the deploy queue'),
  FLIGHTDECK_DATABASE_MAX_ACTIVITIES: z.coerce.number('a whole number, e.g. 4').int().min(1).default(4)
    .describe('dumps, restores and migrations one worker runs at once, on the database queue (each is a pg_dump/pg_restore or a migration holding locks)'),
  FLIGHTDECK_WORKER_MAX_ACTIVITIES: z.coerce.number('a whole number, e.g. 20').int().min(1).default(20)
    .describe('activities one worker runs at once (flyctl, git, probes, Slack): each flyctl or git call is a child process'),
  FLIGHTDECK_WORKER_MAX_WORKFLOW_TASKS: z.coerce.number('a whole number of at least 2, e.g. 100').int().min(2).default(100)
    .describe('workflow tasks one worker holds at once; a task stays open while its local activity runs, and deploy queues and ledgers answer queries and updates in slots of their own'),
  FLIGHTDECK_WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number('a whole number, e.g. 300').int().min(0).default(300)
    .refine((n) => n === 0 || n >= 2, '0 (no cache: every task replays its history) or at least 2')
    .describe('runs kept in memory between tasks (sticky cache); below the open runs, tasks replay history'),
  FLIGHTDECK_PAYLOAD_KEYS: optionalText.describe('id:base64key pairs, comma-separated; the first encrypts Temporal payloads, all decrypt'),
  FLIGHTDECK_BACKUP_SPOOL_DIR: z.string().min(1).default('data/backup-spool')
    .describe('where parallel dumps (parallelJobs > 1) are written before they are packed and stored, and unpacked before pg_restore --jobs: room for the largest such dump; hidden from repository commands'),
  AGE_PATH: z.string().min(1).default('age').describe('age, which encrypts and decrypts backups with encryption configured (Debian: apt-get install age)'),
  SQUAWK_PATH: z.string().min(1).default('squawk').describe('squawk, the migration linter (npm run setup installs it; see scripts/squawk.sh)'),
  FLIGHTDECK_BWRAP_PATH: z.string().min(1).default('bwrap').describe('bubblewrap, the sandbox of repository commands'),
  FLIGHTDECK_UNSANDBOXED_COMMANDS: z.enum(['allow'], 'allow (or unset): run repository commands without a sandbox when none can be made').optional(),
  FLIGHTDECK_SANDBOX_HIDE: z.string().min(1).optional()
    .transform((list) => list?.split(path.delimiter).filter(Boolean))
    .refine((paths) => paths === undefined || paths.every((p) => path.isAbsolute(p)), `absolute paths separated by "${path.delimiter}"`)
    .describe('more paths repository commands must not see'),
  FLY_REGISTRY_HOST: z.string().regex(/^[a-z0-9.-]+(:\d+)?$/i, 'a registry host such as registry.fly.io').optional()
    .describe('the registry flyctl pushes built images to (flyctl reads it too); default registry.fly.io'),
  PG_BIN_DIR: z.string().trim().min(1)
    .refine((dirs) => dirs.split(':').filter(Boolean).every((dir) => ['pg_dump', 'pg_restore'].every((tool) => fs.existsSync(path.join(dir, tool)))),
      'a directory holding pg_dump and pg_restore, e.g. /usr/lib/postgresql/16/bin, or several separated by ":" (unset: /usr/lib/postgresql/*/bin, else PATH)')
    .optional(),
  FLY_API_TOKEN: optionalText,
  FLY_ACCESS_TOKEN: optionalText,
  SLACK_BOT_TOKEN: optionalText,
  SLACK_SIGNING_SECRET: optionalText,
  SLACK_API_URL: z.url('the Slack Web API base URL, e.g. https://slack.com/api/').optional(),
  SLACK_CHANNEL: z.string().min(1).default('#deploys'),
  SLACK_TEAM_ID: optionalText.describe('the Slack workspace (team_id) whose requests are accepted; unset: any workspace the signing secret signs for'),
  SLACK_APP_ID: optionalText.describe('the Slack app (api_app_id) whose requests are accepted; unset: not checked'),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  FLIGHTDECK_API_HOST: z.string().min(1).default('0.0.0.0'),
  FLIGHTDECK_API_PORT: z.coerce.number('a TCP port number, e.g. 8080').int().min(0).max(65535).default(8080),
  FLIGHTDECK_API_TOKEN: optionalText.describe('legacy bearer token with every scope; prefer named tokens (apiTokens in the apps file)'),
  FLIGHTDECK_PUBLIC_READS: booleanFlag.default(false).describe('the read API answers without a token'),
  GITHUB_WEBHOOK_SECRET: optionalText,
  GITHUB_WEBHOOK_SECRET_PREVIOUS: optionalText.describe('still accepted while a rotation is in progress'),
  CI_WEBHOOK_SECRET: optionalText,
  GITHUB_API_URL: z.url('the GitHub REST API base URL, e.g. https://api.github.com').default('https://api.github.com')
    .describe('where GitHub deployments and their statuses are posted (GitHub Enterprise: https://HOST/api/v3)'),
  FLIGHTDECK_RUN_URL_BASE: z.url('a URL the run id is appended to, e.g. https://flightdeck.example.com/runs/').optional()
    .describe("the log_url of GitHub deployment statuses: this base + the run id (the read API's GET /runs/<id>); unset: the run's page in the Temporal UI (TEMPORAL_UI_URL), else none"),
  CI_OIDC_ISSUER: z.url('the OIDC issuer URL').default('https://token.actions.githubusercontent.com'),
  CI_OIDC_AUDIENCE: z.string().min(1).default('flightdeck'),
  CI_OIDC_JWKS_URL: z.url('the JWKS URL of the OIDC issuer').optional(),
  FLIGHTDECK_API_RATE_LIMIT_PER_MINUTE: z.coerce.number('a whole number, e.g. 600').int().min(1).default(600).describe('requests per minute per source IP'),
  FLIGHTDECK_TRUST_PROXY: booleanFlag.default(false).describe("behind Fly's proxy: rate limit and log by Fly-Client-IP"),
  FLIGHTDECK_API_RATE_LIMIT_BURST: z.coerce.number('a whole number, e.g. 60').int().min(1).default(60).describe('requests a source may send at once'),
});

export type EnvConfig = z.infer<typeof envSchema> & {
  /** The Fly token flyctl will use: FLY_ACCESS_TOKEN wins over FLY_API_TOKEN, as in flyctl. */
  flyToken?: string;
  /** FLIGHTDECK_PAYLOAD_KEYS, parsed; empty: payload encryption is off. */
  payloadKeys: PayloadKey[];
};

/** An AES-256 key for Temporal payloads (lib/payloadCodec.ts), named by the id payloads carry. */
export interface PayloadKey {
  id: string;
  key: Buffer;
}

/** "2026-12:<base64 of 32 bytes>,2026-06:<…>" → keys, or the problems with the list. */
function parsePayloadKeys(list: string | undefined): PayloadKey[] | string[] {
  if (list === undefined) return [];
  const keys: PayloadKey[] = [];
  const problems: string[] = [];
  for (const [index, entry] of list.split(',').map((e) => e.trim()).filter(Boolean).entries()) {
    const separator = entry.indexOf(':');
    const id = entry.slice(0, separator);
    const key = Buffer.from(entry.slice(separator + 1), 'base64');
    if (separator < 1 || !/^[\w.-]{1,64}$/.test(id)) problems.push(`FLIGHTDECK_PAYLOAD_KEYS: entry ${index + 1} is not id:base64key (an id of letters, digits, . _ -)`);
    else if (key.length !== 32) problems.push(`FLIGHTDECK_PAYLOAD_KEYS: key "${id}" is ${key.length} bytes; expected 32 (openssl rand -base64 32)`);
    else if (keys.some((k) => k.id === id)) problems.push(`FLIGHTDECK_PAYLOAD_KEYS: key id "${id}" appears twice`);
    else keys.push({ id, key });
    registerSecretValues([entry.slice(separator + 1)]);
  }
  return problems.length ? problems : keys;
}

/** Variables whose values are secrets: registered for redaction as soon as they are read. */
const SECRET_VARIABLES = ['FLY_API_TOKEN', 'FLY_ACCESS_TOKEN', 'SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET', 'TEMPORAL_API_KEY',
  'FLIGHTDECK_API_TOKEN', 'GITHUB_WEBHOOK_SECRET', 'GITHUB_WEBHOOK_SECRET_PREVIOUS', 'CI_WEBHOOK_SECRET', 'FLIGHTDECK_PAYLOAD_KEYS'] as const;

export function loadEnvConfig(env: NodeJS.ProcessEnv = process.env): EnvConfig {
  registerSecretValues(SECRET_VARIABLES.map((name) => env[name]));
  const blankAsMissing = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(blankAsMissing);
  const payloadKeys = parsePayloadKeys(parsed.success ? parsed.data.FLIGHTDECK_PAYLOAD_KEYS : undefined);
  const keyProblems = payloadKeys.filter((k): k is string => typeof k === 'string');
  if (!parsed.success || keyProblems.length) throw new ConfigError('the environment', [...(parsed.success ? [] : problemsOf(parsed.error)), ...keyProblems]);
  return { ...parsed.data, flyToken: parsed.data.FLY_ACCESS_TOKEN ?? parsed.data.FLY_API_TOKEN, payloadKeys: payloadKeys as PayloadKey[] };
}

/**
 * Reads a secret by name (e.g. DATABASE_URL of an app) at the moment it is needed.
 * Only activities call this; the value never leaves the activity.
 */
export function readSecret(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env[name];
  if (value) registerSecretValues([value]);
  return value || undefined;
}

/** Connection-string variables by convention, secret whether or not the apps config names them. */
const CONVENTIONAL_SECRET_VARIABLES = ['DATABASE_URL', 'PGPASSWORD'] as const;

/**
 * Names of the secrets the apps config refers to (database secrets, required secrets), registered by
 * parseAppsConfig. Kept for the life of the process, like registered secret values: a name dropped
 * from a reloaded config may still be set in the environment, and stays stripped.
 */
const configuredSecretVariables = new Set<string>();

function isSecretVariable(name: string): boolean {
  return (SECRET_VARIABLES as readonly string[]).includes(name)
    || (CONVENTIONAL_SECRET_VARIABLES as readonly string[]).includes(name)
    || configuredSecretVariables.has(name);
}

/**
 * The environment for child processes (test commands, flyctl, git, pg_dump…): Flightdeck's own
 * tokens and every database secret of the apps config are stripped; a command that needs one gets
 * exactly that one through `extra` (a migration command: DATABASE_URL of its app's database).
 */
export function childProcessEnv(extra: Record<string, string | undefined> = {}, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const base: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined || isSecretVariable(key)) continue;
    base[key] = value;
  }
  for (const [key, value] of Object.entries(extra)) if (value !== undefined) base[key] = value;
  return base;
}

// ---------------------------------------------------------------- apps config file

const command = z.union([
  z.array(z.string().min(1)).min(1),
  z.string().min(1).transform((s) => s.trim().split(/\s+/)),
]).describe('a command as an argument list, e.g. ["npm", "test"] (no shell)');

const variableName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name');

/** A request header's value: plain text, or a secret named by its variable (resolved in the activity). */
const requestHeaderValue = z.union([
  z.string(),
  z.object({ secret: variableName, prefix: z.string().default('') }).strict(),
]);
const SECRET_HEADER = /authorization|cookie|token|secret|api[-_]?key|password|credential/i;

const jsonScalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const metricName = z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, 'a Prometheus metric name, e.g. http_requests_total');

const httpMethod = z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

const smokeCheckSchema = z.object({
  name: z.string().min(1),
  method: httpMethod.default('GET'),
  path: z.string().startsWith('/', 'a path starting with /'),
  expectStatus: z.number().int().min(100).max(599).default(200),
  bodyContains: z.string().optional(),
  json: z.object({ path: z.string().min(1), equals: jsonScalar }).optional(),
  headers: z.record(z.string(), z.string()).optional().describe('response headers that must be present, with a value the response must contain'),
  metrics: z.array(metricName).optional()
    .describe('metric names the answer (a Prometheus exposition, e.g. GET /metrics) must carry a sample of, e.g. [http_requests_total]'),
  requestHeaders: z.record(z.string(), requestHeaderValue).optional()
    .superRefine((headers, ctx) => {
      for (const [name, value] of Object.entries(headers ?? {})) {
        if (typeof value === 'string' && SECRET_HEADER.test(name)) {
          ctx.addIssue({ code: 'custom', path: [name], message: `${name} carries a secret: name the worker variable that holds it, { secret: NAME, prefix?: "Bearer " }, never its value` });
        }
      }
    }),
  body: z.string().optional(),
  timeout: duration.default('10s'),
}).strict();

const healthSchema = z.object({
  path: z.string().startsWith('/', 'a path starting with /').default('/health'),
  url: z.url('an absolute URL').optional().describe('overrides the app URL reported by flyctl status'),
  consecutiveSuccesses: z.number().int().min(1).max(100).default(3),
  interval: duration.default('2s'),
  deadline: duration.default('2m'),
  requestTimeout: duration.default('5s'),
  expect: z.object({
    json: z.record(z.string().min(1), jsonScalar)
      .describe('dotted paths the JSON body must carry with these values, e.g. { status: ok, checks.postgres.status: pass }'),
  }).strict().optional().describe('a 2xx answer is healthy only if its body carries these fields too'),
}).strict();

const approvalSchema = z.object({
  required: z.boolean().default(false),
  approvers: z.array(z.string().min(1)).default([])
    .describe('Slack user ids, or cli:<OS user> for an operator approving from the CLI'),
  timeout: duration.default('30m'),
  selfApproval: z.boolean().default(false).describe('the requester may approve their own deploy; default false: four-eyes'),
}).strict();

const permissionsSchema = z.object({
  deploy: z.array(z.string().min(1)).optional(),
  rollback: z.array(z.string().min(1)).optional(),
  approve: z.array(z.string().min(1)).optional(),
  restore: z.array(z.string().min(1)).optional(),
  lock: z.array(z.string().min(1)).optional().describe('who may lock and unlock deploys; absent: whoever may deploy'),
}).strict().describe('Slack user ids per action; see docs/slack.md for what an absent list means');

const strategy = z.enum(['rolling', 'immediate', 'canary', 'bluegreen']);

const secretName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'the NAME of the environment variable holding the connection string');

const environmentDatabaseSchema = z.object({
  secret: secretName,
  migrations: z.string().min(1).optional(),
  migrateCommand: command.optional(),
  lockTimeout: duration.default('5s')
    .describe("PostgreSQL lock_timeout of each migration: a statement queued this long behind another session's lock gives up and is retried"),
  statementTimeout: duration.default('0s').describe('PostgreSQL statement_timeout of each migration; 0s: none (a role\'s own never applies)'),
  backupWaitTimeout: duration.default('30m').describe('how long a migration waits for a running backup dump of this database to finish'),
}).strict().describe("this environment's own database: deploys to the environment migrate it, and only it");

const migrationSafetyAction = z.enum(['warn', 'approve', 'block'], 'warn, approve or block');

const migrationSafetySchema = z.object({
  lockRisk: migrationSafetyAction.optional(),
  rollbackIncompatible: migrationSafetyAction.optional(),
}).strict().describe('what a pending migration with findings does here (lib/migrationSafety.ts); unset: approve in production, warn elsewhere');

const weeklyFreezeSchema = z.object({
  reason: z.string().trim().min(1, 'why deploys are frozen, e.g. "weekend"'),
  from: z.string().regex(WEEKLY_TIME, 'a weekday and time such as "Fri 16:00"'),
  to: z.string().regex(WEEKLY_TIME, 'a weekday and time such as "Mon 08:00"'),
  timeZone: z.string().refine(isTimeZone, 'an IANA time zone such as Europe/Paris').default('UTC'),
}).strict().refine((w) => w.from !== w.to, { message: 'from and to must differ', path: ['to'] });

const oneOffFreezeSchema = z.object({
  reason: z.string().trim().min(1, 'why deploys are frozen, e.g. "Black Friday"'),
  from: z.iso.datetime({ offset: true, message: 'a date and time with its offset, e.g. 2026-11-27T00:00:00+01:00' }),
  to: z.iso.datetime({ offset: true, message: 'a date and time with its offset, e.g. 2026-11-30T08:00:00+01:00' }),
}).strict().refine((w) => Date.parse(w.to) > Date.parse(w.from), { message: 'to must be after from', path: ['to'] });

/** lib/freezeWindows.ts: weekly windows have a weekday in from/to, one-off windows ISO instants. */
const freezeWindowSchema = z.union([weeklyFreezeSchema, oneOffFreezeSchema], {
  error: 'a freeze is {reason, from, to}: weekly ("Fri 16:00" to "Mon 08:00", with timeZone) or one-off (ISO dates with offsets)',
});

const regexPattern = z.string().min(1).refine((pattern) => { try { new RegExp(pattern, 'i'); return true; } catch { return false; } }, 'a regular expression, e.g. error|fatal|panic');

/** Metric and log analysis during the bake (lib/bakeAnalysis.ts): Flagger's defaults, Fly's managed Prometheus. */
const analysisSchema = z.object({
  prometheus: z.object({
    url: z.url('the Prometheus HTTP API base URL, e.g. https://api.fly.io/prometheus/my-org/').optional(),
    org: z.string().regex(/^[a-z0-9-]+$/, 'a Fly organization slug, e.g. personal').optional()
      .describe("Fly's managed Prometheus: https://api.fly.io/prometheus/<org>/"),
    tokenSecret: variableName.optional().describe('the NAME of the worker variable holding the API token (sent as Authorization)'),
  }).strict().refine((p) => Boolean(p.url) !== Boolean(p.org), 'either url (any Prometheus) or org (Fly\'s managed Prometheus), not both')
    .optional().describe('where the metric queries go; absent: logs only'),
  interval: duration.default('1m').describe('one analysis per interval during the bake'),
  window: duration.optional().describe('the rate() window of the built-in queries; default: the interval'),
  failedIntervals: z.number().int().min(1).default(2).describe('failed intervals that fail the bake'),
  successRate: z.number().min(0).max(100).default(99).describe('built-in: the share of non-5xx answers, in %, at least'),
  p99: duration.default('500ms').describe('built-in: the 99th percentile latency, at most'),
  requestsMetric: z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, 'a metric name').default('http_requests_total'),
  latencyMetric: z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, 'a histogram name (without _bucket)').default('http_request_duration_seconds'),
  queries: z.array(z.object({
    name: z.string().min(1),
    promql: z.string().min(1).describe('$app is the Fly app, $window the rate window'),
    max: z.number().optional(),
    min: z.number().optional(),
  }).strict().refine((q) => q.max !== undefined || q.min !== undefined, 'a threshold: max, min or both')).default([]),
  noData: z.enum(['inconclusive', 'pass', 'fail'], 'inconclusive, pass or fail').default('inconclusive')
    .describe('a query that returns nothing: inconclusive (reported, the bake passes), pass, or fail (a failed interval)'),
  logs: z.union([z.literal(false), z.object({
    patterns: z.array(regexPattern).min(1).default(['error', 'fatal', 'panic']),
    maxIncrease: z.number().int().min(0).default(5).describe('matching lines the bake may show above the baseline rate'),
  }).strict()]).prefault({}).describe('fly logs during the bake, matching lines compared with before the deploy; false: off'),
}).strict();

const incidentSchema = z.object({
  ifStillFailing: z.enum(['rollback', 'pause'], 'rollback or pause').optional()
    .describe('when restarting every machine did not heal the app: roll back to the last known good release, or pause and ask in Slack; unset: as onFailure'),
}).strict();

const healthWatchSchema = z.object({
  every: duration.default('1m').describe('how often the health URL is probed'),
  failures: z.number().int().min(2, 'at least 2: a single failed probe (a blip) never triggers').max(100).default(3)
    .describe('consecutive failed probes, outside a deploy, before acting'),
  action: z.enum(['alert', 'restart', 'restart-then-rollback'], 'alert, restart or restart-then-rollback').default('alert')
    .describe('alert: page Slack only; restart: page and run the incident runbook, reporting if restarts do not heal; restart-then-rollback: the runbook rolls back then'),
}).strict().describe('opt-in: probe health on a schedule and act on a sustained failure (docs/runbooks.md)');

const environmentSchema = z.object({
  flyApp: flyAppName,
  branch: gitRef.optional().describe('pushes to this branch deploy to this environment'),
  strategy: strategy.default('rolling'),
  rollbackStrategy: strategy.default('immediate'),
  waitTimeout: flyDuration.default('5m'),
  health: healthSchema.prefault({}),
  bake: duration.optional().describe('keep probing for this long after smoke passes'),
  analysis: analysisSchema.optional().describe('metric and log analysis during the bake (needs bake)'),
  onFailure: z.enum(['rollback', 'pause']).default('rollback'),
  pauseTimeout: duration.default('15m').describe('with onFailure: pause, roll back when nobody answers within this'),
  approval: approvalSchema.prefault({}),
  permissions: permissionsSchema.prefault({}),
  slackChannel: z.string().min(1).optional(),
  lockAfterRollback: z.boolean().default(true),
  database: environmentDatabaseSchema.optional(),
  migrationSafety: migrationSafetySchema.optional(),
  allowedImageRegistries: z.array(z.string().regex(/^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)*\/?$/, 'an image repository such as ghcr.io/acme/shop, or a prefix ending in /'))
    .default([]).describe('prebuilt images this environment accepts besides registry.fly.io/<flyApp>'),
  deploymentEvents: z.boolean().default(false).describe('GitHub deployment events may deploy here (held to branch)'),
  promotion: z.object({
    from: resourceName.describe('the environment whose verified releases this one takes, e.g. staging'),
    soak: duration.default('0s').describe('how long a release must have been verified there first, e.g. 30m'),
    auto: z.boolean().default(false).describe('request the promotion by itself once a verified release has soaked there (approval, locks and freezes still apply)'),
  }).strict().optional().describe('flightdeck promote: deploy here exactly the image (and fly.toml) the other environment verified'),
  freezes: z.array(freezeWindowSchema).default([])
    .describe('scheduled deploy locks: weekly {reason, from: "Fri 16:00", to: "Mon 08:00", timeZone} or one-off {reason, from, to} (ISO with offset); rollbacks still run'),
  breakGlass: z.array(z.string().min(1)).default([])
    .describe('who may deploy through a freeze (Slack user ids, cli:<OS user>, token:<name>); audit-logged and announced'),
  incident: incidentSchema.prefault({}).describe('flightdeck restart: the incident runbook'),
  watch: healthWatchSchema.optional(),
}).strict().refine((env) => !env.analysis || env.bake !== undefined, { message: 'analysis runs during the bake: set bake too, e.g. bake: 10m', path: ['analysis'] });

const appSchema = z.object({
  repository: z.string().min(1).describe('a git URL or a local path')
    .refine((url) => !hasCredentials(url), 'a repository URL without credentials: name the variable holding the token in repositoryCredential: { secret: NAME }'),
  repositoryCredential: z.object({
    secret: variableName.describe('the NAME of the worker variable holding the token or password'),
    username: z.string().min(1).default('x-access-token'),
  }).strict().optional().describe('given to git through GIT_ASKPASS, never on a command line'),
  github: z.object({
    repository: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'owner/name'),
    workflow: z.string().min(1).optional(),
    jobWorkflowRef: z.string().min(1).optional().describe('OIDC: the job_workflow_ref a token must carry, e.g. acme/shop/.github/workflows/deploy.yml@refs/heads/main'),
    eventNames: z.array(z.string().min(1)).min(1).optional().describe('OIDC: the event_name values a token may carry, e.g. [push]'),
    repositoryId: z.union([z.string().regex(/^\d+$/), z.number().int()]).transform(String).optional().describe('OIDC: the repository_id a token must carry (survives renames)'),
    token: z.object({
      secret: variableName.describe('the NAME of the worker variable holding the token, never the token'),
    }).strict().optional()
      .describe('a fine-grained token (Deployments: read and write) or a GitHub App installation token; set: deploys from GitHub and OIDC callers are reported as GitHub Deployments'),
  }).strict().optional(),
  testCommand: command.optional(),
  testTimeout: duration.default('15m'),
  smokeCommand: command.optional(),
  smokeChecks: z.array(smokeCheckSchema).default([]),
  requiredSecrets: z.array(z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name')).default([]),
  env: z.record(variableName, z.string()).default({}).describe('variables the tests and the smoke command see (not secrets: those go in commandSecrets)'),
  network: z.boolean().default(true).describe('false: tests and the smoke command run without any network'),
  commandSecrets: z.object({
    test: z.array(variableName).default([]),
    smoke: z.array(variableName).default([]),
  }).strict().prefault({}).describe('the NAMES of worker variables each repository command is given; nothing else is'),
  database: environmentDatabaseSchema.optional()
    .describe('shorthand for environments.<name>.database when the app has exactly one environment'),
  slackChannel: z.string().min(1).optional(),
  environments: z.record(resourceName, environmentSchema).refine((envs) => Object.keys(envs).length > 0, 'at least one environment'),
}).strict().superRefine((app, ctx) => {
  if (!app.database) return;
  const names = Object.keys(app.environments);
  if (names.length !== 1) {
    ctx.addIssue({
      code: 'custom',
      path: ['database'],
      message: `the per-app database is a shorthand for an app with exactly one environment; this app has ${names.join(', ')}: `
        + 'give each environment its own database (environments.<name>.database), so a staging deploy can never migrate production',
    });
  } else if (app.environments[names[0]!]!.database) {
    ctx.addIssue({ code: 'custom', path: ['database'], message: `set the database once: here or in environments.${names[0]}.database, not both` });
  }
}).transform(({ database, ...app }) => {
  // The shorthand becomes the one environment's database: everything after parsing sees one form.
  if (!database) return app;
  const [name, environment] = Object.entries(app.environments)[0]!;
  return { ...app, environments: { [name]: { ...environment, database } } };
});

/** pg_dump --jobs opens one connection per job (plus one): more than this is a typo, not a plan. */
const MAX_PARALLEL_JOBS = 16;
const PARALLEL_JOBS_EXPECTED = `a whole number of pg_dump/pg_restore jobs from 1 (no parallel dump) to ${MAX_PARALLEL_JOBS}`;

const encryptionSchema = z.object({
  recipients: z.array(z.string().regex(/^age1[02-9ac-hj-np-z]{58}$/, 'an age public key: age1 and 58 more characters (age-keygen -y prints it)')).min(1)
    .describe('age public keys the dumps are encrypted for; any one of their identities decrypts'),
  identitySecret: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'the NAME of the environment variable holding the age identities (AGE-SECRET-KEY-1…), never a key')
    .describe('the NAME of the worker variable holding the age identities, separated by newlines or commas: the current one and those of older backups'),
}).strict().describe('client-side encryption of the dumps with age (docs/backups.md)');

const databaseSchema = z.object({
  app: resourceName.optional(),
  secret: secretName,
  backupBeforeMigrate: z.boolean().default(true)
    .describe('take a verified backup before any migration changes this database (found by its secret); false opts out'),
  schedule: z.string().min(1).default('0 2 * * *'),
  timezone: z.string().min(1).default('UTC'),
  scheduleJitter: duration.default('10m')
    .describe('each scheduled backup starts at a random moment up to this long after its time, so databases sharing a cron time do not dump at once'),
  compressionLevel: z.number().int().min(0).max(9).default(6),
  parallelJobs: z.number(PARALLEL_JOBS_EXPECTED).int(PARALLEL_JOBS_EXPECTED).min(1, PARALLEL_JOBS_EXPECTED).max(MAX_PARALLEL_JOBS, PARALLEL_JOBS_EXPECTED).default(1)
    .describe('1: pg_dump --format=custom streamed to storage; N > 1: pg_dump --format=directory --jobs=N on the worker, packed into one tar object, and pg_restore --jobs=N for verification and restores (docs/backups.md)'),
  restoreTargets: z.array(z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a database name')).default([])
    .describe("existing databases besides the backup's own that its backups may overwrite (with confirmation and the target's approval)"),
  stallTimeout: duration.default('15m').describe('a pg_dump that writes nothing for this long is stopped and retried'),
  lockWaitTimeout: duration.default('5m').describe('pg_dump --lock-wait-timeout: behind an ACCESS EXCLUSIVE lock, fail (and retry) instead of queueing forever'),
  verifySecret: secretName.optional()
    .describe('the NAME of a connection string to another cluster where verification restores its scratch copy; unset: the source server, after a free-space preflight'),
  verifyMinFreePercent: z.number().min(0).max(100).default(10)
    .describe("verifying on the source server: the share of its disk that must stay free after the scratch copy (estimated from pg_database_size)"),
  retention: z.object({
    maxAge: duration.default('30d'),
    maxCount: z.number().int().min(1).default(30),
    minVerified: z.number().int().min(1).default(3),
  }).strict().prefault({}),
  flyProxy: z.object({ app: flyAppName, remotePort: z.number().int().default(5432) }).strict().optional(),
  permissions: z.object({
    backup: z.array(z.string().min(1)).optional(),
    restore: z.array(z.string().min(1)).optional(),
    migrate: z.array(z.string().min(1)).optional(),
  }).strict().prefault({}).describe('Slack user ids per action; see docs/slack.md for what an absent list means'),
  encryption: encryptionSchema.optional(),
  ssl: z.object({
    mode: z.enum(['disable', 'require', 'verify-ca', 'verify-full'], 'disable, require, verify-ca or verify-full (libpq sslmode)').optional()
      .describe("libpq's sslmode for this database's connections (pg_dump, pg_restore and Flightdeck's own); overrides the URL's sslmode"),
    rootCertFile: z.string().min(1).optional()
      .describe('a PEM file on the worker with the CA certificates that verify-ca and verify-full check the server against (libpq sslrootcert)'),
  }).strict().optional(),
  freshness: z.object({
    staleAfter: duration.optional()
      .describe('alarm when the newest verified backup is older than this; unset: the longest gap of the schedule plus 2h (26h for a nightly schedule)'),
    checkEvery: duration.default('15m').describe('how often the watch reads the catalog'),
  }).strict().prefault({}),
}).strict().superRefine((database, ctx) => {
  if (database.freshness.staleAfter) return;
  try {
    assertReadableSchedule(database.schedule, database.timezone);
  } catch (err) {
    ctx.addIssue({
      code: 'custom', path: ['freshness', 'staleAfter'],
      message: `the schedule "${database.schedule}" (${database.timezone}) cannot be read to derive when its backups are overdue (${(err as Error).message}): set freshness.staleAfter, e.g. 26h`,
    });
  }
});

const apiTokenScope = z.string().regex(/^(read|(deploy|rollback):(\*|[a-z0-9-]+\/(\*|[a-z0-9-]+))|backup:(\*|[a-z0-9_-]+))$/,
  'a scope: read, deploy:<app>/<env>, deploy:<app>/*, deploy:*, rollback:… (the same), backup:<db> or backup:*');

const apiTokenSchema = z.object({
  sha256: z.string().regex(/^[a-f0-9]{64}$/, 'the SHA-256 of the token, 64 hex digits (printf %s "$TOKEN" | sha256sum); never the token'),
  scopes: z.array(apiTokenScope).min(1),
}).strict();

const appsFileSchema = z.object({
  apps: z.record(resourceName, appSchema).default({}),
  apiTokens: z.record(resourceName, apiTokenSchema).default({}).describe('named API tokens, stored as hashes, with scopes'),
  databases: z.record(resourceName, databaseSchema).default({}),
  slack: z.object({
    defaultChannel: z.string().min(1).optional(),
    allowedChannels: z.array(z.string().min(1)).optional().describe('channel ids where slash commands and buttons are accepted; absent: any'),
  }).strict().prefault({}),
  storage: z.discriminatedUnion('type', [
    z.object({ type: z.literal('local'), dir: z.string().min(1).default('data/backups'), encryption: encryptionSchema.optional() }).strict(),
    z.object({
      type: z.literal('s3'), bucket: z.string().min(1), prefix: z.string().default(''), endpoint: z.url().optional(), region: z.string().default('auto'),
      encryption: encryptionSchema.optional(),
    }).strict(),
  ]).default({ type: 'local', dir: 'data/backups' }),
}).strict();

/**
 * A URL that carries a password (scheme://user:password@host), or any user name over HTTP(S), where
 * that is how tokens are usually passed. An ssh user (ssh://git@host, git@host:org/repo) is fine.
 */
export function hasCredentials(repository: string): boolean {
  let url: URL;
  try {
    url = new URL(repository);
  } catch {
    return false;
  }
  if (url.password) return true;
  return Boolean(url.username) && /^https?:$/.test(url.protocol);
}

export type SmokeCheck = z.infer<typeof smokeCheckSchema>;
export type HealthConfig = z.infer<typeof healthSchema>;
export type AnalysisConfig = z.infer<typeof analysisSchema>;
export type HealthWatchConfig = z.infer<typeof healthWatchSchema>;
export type EnvironmentConfig = z.infer<typeof environmentSchema>;
export type EnvironmentDatabaseConfig = z.infer<typeof environmentDatabaseSchema>;
export type AppConfig = z.infer<typeof appSchema>;
export type DatabaseConfig = z.infer<typeof databaseSchema>;
export type AppsConfig = z.infer<typeof appsFileSchema>;

export function parseAppsConfig(raw: unknown, source = 'the apps config'): AppsConfig {
  const parsed = appsFileSchema.safeParse(raw ?? {});
  if (!parsed.success) throw new ConfigError(source, problemsOf(parsed.error));
  registerConfiguredSecrets(parsed.data);
  return withOwnKeysOnly(parsed.data);
}

/**
 * Maps keyed by names from requests (apps, environments, databases) get no prototype: `apps["constructor"]`
 * is then undefined, as for any other unknown name, wherever it is looked up.
 */
function withOwnKeysOnly(config: AppsConfig): AppsConfig {
  const own = <T>(record: Record<string, T>): Record<string, T> => Object.assign(Object.create(null) as Record<string, T>, record);
  const apps = own(Object.fromEntries(Object.entries(config.apps).map(([name, app]) => [name, { ...app, environments: own(app.environments) }])));
  return { ...config, apps, databases: own(config.databases) };
}

function registerConfiguredSecrets(config: AppsConfig): void {
  for (const app of Object.values(config.apps)) {
    for (const environment of Object.values(app.environments)) if (environment.database) configuredSecretVariables.add(environment.database.secret);
    for (const name of app.requiredSecrets) configuredSecretVariables.add(name);
    if (app.repositoryCredential) configuredSecretVariables.add(app.repositoryCredential.secret);
    if (app.github?.token) configuredSecretVariables.add(app.github.token.secret);
    for (const environment of Object.values(app.environments)) {
      if (environment.analysis?.prometheus?.tokenSecret) configuredSecretVariables.add(environment.analysis.prometheus.tokenSecret);
    }
    for (const check of app.smokeChecks) {
      for (const value of Object.values(check.requestHeaders ?? {})) if (typeof value !== 'string') configuredSecretVariables.add(value.secret);
    }
    for (const names of Object.values(app.commandSecrets)) for (const name of names) configuredSecretVariables.add(name);
  }
  for (const database of Object.values(config.databases)) {
    configuredSecretVariables.add(database.secret);
    if (database.verifySecret) configuredSecretVariables.add(database.verifySecret);
    if (database.encryption) configuredSecretVariables.add(database.encryption.identitySecret);
  }
  if (config.storage.encryption) configuredSecretVariables.add(config.storage.encryption.identitySecret);
}

/**
 * Reads flightdeck.yaml (YAML; JSON is valid YAML too). A missing file is an error, not an empty
 * config: "unknown app" would hide that FLIGHTDECK_CONFIG points at the wrong place.
 */
export function loadAppsConfig(file: string): AppsConfig {
  const resolved = path.resolve(file);
  if (!fs.existsSync(resolved)) {
    throw new ConfigError(resolved, ['the apps file does not exist: set FLIGHTDECK_CONFIG to your apps file (see examples/flightdeck.example.yaml; the sandbox writes data/flightdeck.yaml)']);
  }
  let raw: unknown;
  try {
    raw = parseYaml(fs.readFileSync(resolved, 'utf8'));
  } catch (err) {
    throw new ConfigError(resolved, [`not valid YAML: ${(err as Error).message}`]);
  }
  return parseAppsConfig(raw, resolved);
}

/**
 * loadAppsConfig for a long-running process (the API, the worker): parses the file again only when
 * it changed (inode, size or modification time), so an edit applies at the next request without
 * reading and validating the YAML on every one. An invalid edit throws, as loadAppsConfig does,
 * until it is fixed.
 */
export function appsConfigLoader(file: string): () => AppsConfig {
  let cached: { version: string; config: AppsConfig } | undefined;
  return () => {
    const stat = fs.statSync(path.resolve(file), { throwIfNoEntry: false });
    const version = stat ? `${stat.ino}:${stat.size}:${stat.mtimeMs}` : undefined;
    if (cached && cached.version === version) return cached.config;
    const config = loadAppsConfig(file);
    cached = version ? { version, config } : undefined;
    return config;
  };
}

export interface ResolvedTarget {
  appName: string;
  environment: string;
  app: AppConfig;
  env: EnvironmentConfig;
}

/** A record's own entry by a name from a request: "constructor" or "__proto__" is no app or environment. */
export function ownValue<T>(record: Record<string, T>, name: string): T | undefined {
  return Object.hasOwn(record, name) ? record[name] : undefined;
}

/** Looks up an app and environment, with an error that lists what exists. */
export function resolveTarget(config: AppsConfig, appName: string, environment: string): ResolvedTarget {
  const app = ownValue(config.apps, appName);
  if (!app) throw new ConfigError('the request', [`unknown app "${appName}"; configured apps: ${Object.keys(config.apps).join(', ') || '(none)'}`]);
  const env = ownValue(app.environments, environment);
  if (!env) throw new ConfigError('the request', [`app "${appName}" has no environment "${environment}"; it has: ${Object.keys(app.environments).join(', ')}`]);
  return { appName, environment, app, env };
}

/**
 * Where a run reports: the environment's channel, else the app's, else the apps file's default,
 * else SLACK_CHANNEL. Deploys, backups and migrations all choose the same way.
 */
export function slackChannelFor(config: AppsConfig, env: EnvConfig, target: { app?: string; environment?: string }): string {
  const app = target.app ? ownValue(config.apps, target.app) : undefined;
  const environment = target.environment && app ? ownValue(app.environments, target.environment) : undefined;
  return environment?.slackChannel ?? app?.slackChannel ?? config.slack.defaultChannel ?? env.SLACK_CHANNEL;
}

export const requestFields = { resourceName, gitRef, commitSha, flyAppName };
