// Resolves "app + environment" into everything a deploy needs, from the config file at the start of
// a run. The result is recorded in history, so the run keeps one consistent view of its config.
import pg from 'pg';
import { planAnalysis, type AnalysisPlan } from '../lib/bakeAnalysis.js';
import { ConfigError, readSecret, resolveTarget, slackChannelFor, type AppsConfig, type EnvConfig, type SmokeCheck } from '../lib/config.js';
import { databaseOfEnvironment } from '../lib/environmentDatabase.js';
import { activeFreeze, type ActiveFreeze } from '../lib/freezeWindows.js';
import type { GitHubDeploymentTarget } from '../lib/githubDeployments.js';
import { resolveMigrationSafetyPolicy, type MigrationSafetyPolicy } from '../lib/migrationSafety.js';
import { PermanentError, permanentFailure, TransientError, transientFailure } from '../lib/errors.js';
import type { JsonScalar } from '../lib/jsonFields.js';
import { redactText } from '../lib/redact.js';
import { durationToMs } from '../lib/validate.js';

export interface DeployTarget {
  app: string;
  environment: string;
  flyApp: string;
  repository: string;
  /** NAMES only: the variable holding the repository's token, and its user name. */
  repositoryCredential?: { secret: string; username: string };
  testCommand?: string[];
  testTimeoutMs: number;
  smokeCommand?: string[];
  smokeChecks: SmokeCheck[];
  requiredSecrets: string[];
  /** The NAME of the variable holding this environment's database URL; never its value. */
  databaseSecret?: string;
  /** This environment's database has migrations: the pipeline migrates it (and only it). */
  hasMigrations: boolean;
  /** What findings of the migration linter do here (environments.<name>.migrationSafety over the default); absent in older histories. */
  migrationSafety?: MigrationSafetyPolicy;
  strategy: string;
  rollbackStrategy: string;
  waitTimeout: string;
  /** expectJson: dotted path → value the health answer's JSON must carry (absent in older histories: status only). */
  health: {
    path: string; url?: string; consecutiveSuccesses: number; intervalMs: number; deadlineMs: number; requestTimeoutMs: number;
    expectJson?: Record<string, JsonScalar>;
  };
  bakeMs: number;
  /** Metric and log analysis during the bake (absent: none, or a history from before it). */
  analysis?: AnalysisPlan;
  onFailure: 'rollback' | 'pause';
  pauseTimeout: string;
  /** isSelfApprovalAllowed: the requester may approve their own deploy (four-eyes off); absent in older histories. */
  approval: { isRequired: boolean; approvers: string[]; timeout: string; isSelfApprovalAllowed?: boolean };
  slackChannel: string;
  /** Link to the run in the Temporal UI, when a UI URL is configured. */
  temporalUiBase?: string;
  /** Where checkouts, tests and smoke commands run (FLIGHTDECK_RUNNER_TASK_QUEUE); absent: the run's own queue. */
  runnerTaskQueue?: string;
  /** Where builds and rollouts run (FLIGHTDECK_DEPLOY_TASK_QUEUE, worker/taskQueues.ts); absent: the run's own queue. */
  deployTaskQueue?: string;
  lockAfterRollback: boolean;
  /** The freeze window in force when the run started (absent: none, or a history from before freezes). */
  freeze?: ActiveFreeze;
  /** Where runs from GitHub and OIDC callers are reported as GitHub Deployments (apps.<app>.github.token); absent: not reported. */
  github?: GitHubDeploymentTarget;
  /** The incident runbook's policy when restarts do not heal (absent in older histories). */
  incident?: { ifStillFailing: 'rollback' | 'pause' };
  /** The health watch, when this environment opted in. */
  watch?: { everyMs: number; failures: number; action: 'alert' | 'restart' | 'restart-then-rollback' };
}

export function createDeployTargetActivities(deps: { env: EnvConfig; loadAppsConfig: () => AppsConfig }) {
  return {
    async resolveDeployTarget(input: { app: string; environment: string }): Promise<DeployTarget> {
      const config = deps.loadAppsConfig();
      let resolved;
      try {
        resolved = resolveTarget(config, input.app, input.environment);
      } catch (err) {
        if (err instanceof ConfigError) throw permanentFailure(PermanentError.ConfigInvalid, err.message);
        throw err;
      }
      const { app, env } = resolved;
      const database = databaseOfEnvironment(config, input.app, input.environment)?.database;
      return {
        app: input.app,
        environment: input.environment,
        flyApp: env.flyApp,
        repository: app.repository,
        repositoryCredential: app.repositoryCredential,
        testCommand: app.testCommand,
        testTimeoutMs: durationToMs(app.testTimeout),
        smokeCommand: app.smokeCommand,
        smokeChecks: app.smokeChecks,
        requiredSecrets: app.requiredSecrets,
        databaseSecret: database?.secret,
        hasMigrations: Boolean(database?.migrations || database?.migrateCommand),
        migrationSafety: resolveMigrationSafetyPolicy(input.environment, env.migrationSafety),
        strategy: env.strategy,
        rollbackStrategy: env.rollbackStrategy,
        waitTimeout: env.waitTimeout,
        health: {
          path: env.health.path,
          url: env.health.url,
          consecutiveSuccesses: env.health.consecutiveSuccesses,
          intervalMs: durationToMs(env.health.interval),
          deadlineMs: durationToMs(env.health.deadline),
          requestTimeoutMs: durationToMs(env.health.requestTimeout),
          ...(env.health.expect ? { expectJson: env.health.expect.json } : {}),
        },
        bakeMs: env.bake ? durationToMs(env.bake) : 0,
        ...(env.analysis ? { analysis: planAnalysis(env.analysis, env.flyApp) } : {}),
        onFailure: env.onFailure,
        pauseTimeout: env.pauseTimeout,
        approval: { isRequired: env.approval.required, approvers: env.approval.approvers, timeout: env.approval.timeout, isSelfApprovalAllowed: env.approval.selfApproval },
        slackChannel: slackChannelFor(config, deps.env, input),
        runnerTaskQueue: deps.env.FLIGHTDECK_RUNNER_TASK_QUEUE,
        deployTaskQueue: deps.env.FLIGHTDECK_DEPLOY_TASK_QUEUE,
        temporalUiBase: deps.env.TEMPORAL_UI_URL ? `${deps.env.TEMPORAL_UI_URL.replace(/\/$/, '')}/namespaces/${deps.env.TEMPORAL_NAMESPACE}/workflows/` : undefined,
        lockAfterRollback: env.lockAfterRollback,
        freeze: activeFreeze(env.freezes, env.breakGlass, Date.now()),
        ...(app.github?.token ? { github: { repository: app.github.repository, tokenSecret: app.github.token.secret } } : {}),
        incident: { ifStillFailing: env.incident.ifStillFailing ?? env.onFailure },
        ...(env.watch ? { watch: { everyMs: durationToMs(env.watch.every), failures: env.watch.failures, action: env.watch.action } } : {}),
      };
    },

    /** Connects and runs `select 1`. The URL is read here by name and never leaves this function. */
    async checkDatabaseReachable(input: { secretName: string }): Promise<void> {
      const url = readSecret(input.secretName);
      if (!url) throw permanentFailure(PermanentError.DatabaseUnreachable, `The worker has no ${input.secretName} in its environment; set it to the database URL`);
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
      try {
        await client.connect();
        await client.query('select 1');
      } catch (err) {
        // A network blip is worth a retry; the workflow bounds the attempts.
        throw transientFailure(TransientError.NetworkError, `Database ${input.secretName} is not reachable: ${redactText((err as Error).message)}`);
      } finally {
        await client.end().catch(() => undefined);
      }
    },
  };
}

export type DeployTargetActivities = ReturnType<typeof createDeployTargetActivities>;
