// Migration activities: thin wrappers that resolve the app's config, its migrations folder and its
// database secret (by name, here, never in the workflow), call the migrator, and turn its errors
// into Temporal failures. Connection strings stay inside this process; every message is redacted.
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import type { AppsConfig, EnvConfig } from '../../lib/config.js';
import { ConfigError, ownValue, readSecret, slackChannelFor } from '../../lib/config.js';
import { resolveEnvironmentDatabase, type EnvironmentDatabase } from '../../lib/environmentDatabase.js';
import { PermanentError, permanentFailure, transientFailure, TransientError, type PermanentErrorType } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import type { MigrationAction, MigrationStatusReport, PlannedMigration } from '../../lib/messages.js';
import { registerSecretValues, redactText, redactValue } from '../../lib/redact.js';
import { describeMigrationSafety, resolveMigrationSafetyPolicy, type MigrationSafetyPolicy, type MigrationSafetyReport } from '../../lib/migrationSafety.js';
import { duration, durationToMs } from '../../lib/validate.js';
import { interruptedAttempt, withHeartbeat, type Progress } from '../heartbeat.js';
import { MigrationError, type MigrationErrorKind } from './errors.js';
import { readMigrationsFolder } from './files.js';
import { runMigrateCommand, type MigrateCommandOutcome } from './migrateCommand.js';
import { describeDumpLockHolders } from './advisoryLock.js';
import {
  applyPending, forceVersion, inspectDatabase, openSession, rollBack, stateOf, type MigrationRunOutcome, type MigratorOptions, type RunRecord,
} from './migrator.js';
import {
  assertSafeToMigrate, migrationLabel, planApply, planRollback, toPlannedMigration, type Migration, type RollbackTarget, type SchemaState,
} from './plan.js';
import { lintMigrations, SQUAWK_VERSION } from './squawk.js';

export interface MigrationDeps {
  env: EnvConfig;
  logger: Logger;
  loadAppsConfig: () => AppsConfig;
}

export interface MigrationTargetRequest {
  app: string;
  environment?: string;
  /** Absolute path of the app's checkout, for a relative migrations folder and the command's cwd. */
  workspace?: string;
}

export interface MigrationTarget {
  /** 'files' when the app has a migrations folder (it wins over a migrateCommand), else 'command'. */
  mode: 'files' | 'command';
  slackChannel: string;
  /** The environment whose database this is (the request's, or the app's only one with a database). */
  environment?: string;
  /** The `databases:` entry of this database (same secret), for a backup before migrating. */
  backupDatabase?: string;
  /** The config asks for a verified backup first (a `databases:` entry without backupBeforeMigrate: false). */
  isBackupRequired?: boolean;
  /** The Postgres database the secret points at (a name, not a secret): a restore of the backup goes over it. */
  pgDatabase?: string;
  /** What findings of the migration linter do in this environment; absent in older histories. */
  migrationSafety?: MigrationSafetyPolicy;
  /** Where the long database work runs (FLIGHTDECK_DATABASE_TASK_QUEUE, worker/taskQueues.ts); absent: the run's own queue. */
  databaseTaskQueue?: string;
}

export interface MigrationRunRequest extends MigrationTargetRequest {
  /** A duration such as '2m': how long to wait for another migrator. */
  lockTimeout?: string;
  record: RunRecord;
}

const DEFAULT_LOCK_TIMEOUT = '2m';
const DEFAULT_COMMAND_TIMEOUT_MS = 60 * 60_000;

export function createMigrationActivities(deps: MigrationDeps) {
  /** Everything a run needs from the config and the secret store, resolved at the moment of use. */
  async function prepare(request: MigrationTargetRequest & { lockTimeout?: string }, control?: Progress) {
    const { database } = migratingDatabaseOf(deps.loadAppsConfig(), request);
    const connectionString = readSecret(database.secret);
    if (!connectionString) {
      throw permanentFailure(PermanentError.SecretsMissing, `The database secret ${database.secret} of app "${request.app}" is not set in the worker's environment.`);
    }
    // The password alone can surface in an error (e.g. a libpq keyword string): redact it too.
    registerSecretValues([passwordOf(connectionString)]);
    const options: Omit<MigratorOptions, 'migrations'> = {
      connectionString,
      lockTimeoutMs: lockTimeoutMsOf(request.lockTimeout),
      statementLockTimeoutMs: durationToMs(database.lockTimeout),
      statementTimeoutMs: durationToMs(database.statementTimeout),
      dumpWaitTimeoutMs: durationToMs(database.backupWaitTimeout),
      signal: control?.signal,
      onProgress: (line) => {
        deps.logger.info({ app: request.app, migration: line }, 'migration progress');
        control?.report(line);
      },
    };
    return { database, options };
  }

  async function migratorOptions(request: MigrationTargetRequest & { lockTimeout?: string }, control?: Progress): Promise<MigratorOptions> {
    const { database, options } = await prepare(request, control);
    if (!database.migrations) throw new MigrationError('invalid', `App "${request.app}" migrates with its own command (database.migrateCommand): only apply is possible.`);
    return { ...options, migrations: await readMigrationsFolder(migrationsFolderOf(database.migrations, request.workspace)) };
  }

  /** Lints what an apply would run now; an app's own migrate command is not analysable, and says so. */
  async function lintPending(request: MigrationTargetRequest, control?: Progress): Promise<MigrationSafetyReport> {
    const { database } = migratingDatabaseOf(deps.loadAppsConfig(), request);
    if (!database.migrations) return commandNotAnalysable(database.migrateCommand ?? []);
    const options = await migratorOptions(request, control);
    const status = await inspectDatabase(options);
    const pending = planApply(options.migrations, stateOf(status)).map((step) => step.migration);
    return lintReport(pending, control?.signal);
  }

  async function lintReport(pending: Migration[], signal?: AbortSignal): Promise<MigrationSafetyReport> {
    if (pending.length === 0) return { mode: 'none', migrations: [], findings: [] };
    const findings = await lintMigrations(deps.env.SQUAWK_PATH, pending, signal);
    return { mode: 'files', linter: `squawk ${SQUAWK_VERSION}`, migrations: pending.map(migrationLabel), findings };
  }

  return {
    async resolveMigrationTarget(request: MigrationTargetRequest): Promise<MigrationTarget> {
      return reportingFailures(async () => {
        const config = deps.loadAppsConfig();
        const resolved = migratingDatabaseOf(config, request);
        return {
          mode: resolved.database.migrations ? 'files' : 'command',
          environment: resolved.environment,
          slackChannel: slackChannelFor(config, deps.env, { app: request.app, environment: resolved.environment }),
          backupDatabase: resolved.backupEntry,
          isBackupRequired: resolved.isBackupRequired,
          pgDatabase: databaseNameOf(readSecret(resolved.database.secret)),
          migrationSafety: resolveMigrationSafetyPolicy(resolved.environment, environmentConfigOf(config, request.app, resolved.environment)?.migrationSafety),
          databaseTaskQueue: deps.env.FLIGHTDECK_DATABASE_TASK_QUEUE,
        };
      });
    },

    /**
     * The migration safety report of what an apply would run now (squawk's findings), for the
     * pipeline's decision before anything changes. Takes no lock and changes nothing.
     */
    async lintPendingMigrations(request: MigrationTargetRequest): Promise<MigrationSafetyReport & { summary: string }> {
      return heartbeating('lint', async (control) => {
        const report = await lintPending(request, control);
        return { ...report, summary: describeMigrationSafety(report) };
      });
    },

    /** Status, and the plan an action would run (the dry run), with its safety findings. Takes no lock and changes nothing. */
    async inspectMigrations(request: MigrationTargetRequest & { action: MigrationAction } & RollbackTarget):
      Promise<{ status: MigrationStatusReport; plan: PlannedMigration[]; safety?: MigrationSafetyReport }> {
      return reportingFailures(async () => {
        const options = await migratorOptions(request);
        const status = await inspectDatabase(options);
        const state = stateOf(status);
        // Refuse early, before a backup is taken; the run itself checks again under the lock.
        if (request.action === 'apply' || request.action === 'rollback') assertSafeToMigrate(status);
        const direction = request.action === 'plan' ? planDirection(request, state) : request.action;
        if (direction === 'apply') {
          const steps = planApply(options.migrations, state, request.toVersion);
          // The dry run shows the findings; an apply's own decision was made before it (the pipeline's lint stage).
          const safety = request.action === 'plan' ? await lintReport(steps.map((step) => step.migration)) : undefined;
          return { status, plan: steps.map(toPlannedMigration), safety };
        }
        if (direction === 'rollback') return { status, plan: planRollback(options.migrations, state, request).map(toPlannedMigration) };
        return { status, plan: [] };
      });
    },

    /**
     * A backup dump of the app's database running now (who holds it), or undefined: what a migration
     * about to start will wait for. For the run's status; it takes no lock.
     */
    async findRunningBackupDump(request: MigrationTargetRequest): Promise<string | undefined> {
      return reportingFailures(async () => {
        const { options } = await prepare(request);
        const session = await openSession(options.connectionString);
        try {
          return (await describeDumpLockHolders(session.db, true)) || undefined;
        } finally {
          await session.close();
        }
      });
    },

    async applyMigrations(request: MigrationRunRequest & { toVersion?: number }): Promise<MigrationRunOutcome> {
      return heartbeating('apply', async (control) => applyPending(await migratorOptions(request, control), request.toVersion, request.record));
    },

    async rollbackMigrations(request: MigrationRunRequest & RollbackTarget): Promise<MigrationRunOutcome> {
      return heartbeating('rollback', async (control) => rollBack(await migratorOptions(request, control), request, request.record));
    },

    async forceMigrationVersion(request: MigrationRunRequest & { version: number }): Promise<MigrationStatusReport> {
      return heartbeating('force', async (control) => forceVersion(await migratorOptions(request, control), request.version, request.record));
    },

    async runAppMigrateCommand(request: MigrationRunRequest): Promise<MigrateCommandOutcome> {
      return heartbeating('command', async (control) => {
        const { database, options } = await prepare(request, control);
        const command = database.migrateCommand;
        if (!command) throw new MigrationError('invalid', `App "${request.app}" has no database.migrateCommand.`);
        return runMigrateCommand({ ...options, command, cwd: request.workspace, timeoutMs: DEFAULT_COMMAND_TIMEOUT_MS }, request.record);
      });
    },
  };
}

export type MigrationActivities = ReturnType<typeof createMigrationActivities>;

function commandNotAnalysable(command: readonly string[]): MigrationSafetyReport {
  return {
    mode: 'command',
    migrations: [],
    findings: [],
    notAnalysable: `The app migrates with its own command (${command.join(' ')}): Flightdeck cannot see the SQL it will run, so nothing was linted `
      + 'for lock risk or rollback compatibility. Review its pending migrations by hand, or move them into a migrations folder of .sql files.',
  };
}

function environmentConfigOf(config: AppsConfig, app: string, environment: string | undefined) {
  return environment === undefined ? undefined : ownValue(config.apps, app)?.environments[environment];
}

// ---------------------------------------------------------------- resolving

function migratingDatabaseOf(config: AppsConfig, request: MigrationTargetRequest): EnvironmentDatabase {
  let resolved: EnvironmentDatabase;
  try {
    resolved = resolveEnvironmentDatabase(config, request.app, request.environment);
  } catch (err) {
    if (err instanceof ConfigError) throw new MigrationError('invalid', err.problems.join('; '));
    throw err;
  }
  const { database, environment } = resolved;
  if (!database.migrations && !database.migrateCommand) {
    throw new MigrationError('invalid', `The database of ${request.app} ${environment} has neither migrations (a folder) nor migrateCommand.`);
  }
  return resolved;
}

function migrationsFolderOf(folder: string, workspace: string | undefined): string {
  if (path.isAbsolute(folder)) return folder;
  if (!workspace || !path.isAbsolute(workspace)) {
    throw new MigrationError('invalid', `The migrations folder "${folder}" is relative to the app's checkout: pass the checkout's absolute path as workspace.`);
  }
  return path.resolve(workspace, folder);
}

/** The plan action dry-runs a rollback when asked for steps or a version below the current one. */
function planDirection(target: RollbackTarget, state: SchemaState): 'apply' | 'rollback' {
  const isBackwards = target.steps !== undefined || (target.toVersion !== undefined && target.toVersion < state.version);
  return isBackwards ? 'rollback' : 'apply';
}

function lockTimeoutMsOf(lockTimeout: string | undefined): number {
  const parsed = duration.safeParse(lockTimeout ?? DEFAULT_LOCK_TIMEOUT);
  if (!parsed.success) throw new MigrationError('invalid', `lockTimeout "${lockTimeout}" is not a duration like 30s or 2m.`);
  return durationToMs(parsed.data);
}

function databaseNameOf(connectionString: string | undefined): string | undefined {
  try {
    return decodeURIComponent(new URL(connectionString ?? '').pathname.slice(1)) || undefined;
  } catch {
    return undefined;
  }
}

function passwordOf(connectionString: string): string | undefined {
  try {
    return decodeURIComponent(new URL(connectionString).password) || undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- failures

const FAILURE_TYPE: Record<MigrationErrorKind, PermanentErrorType> = {
  invalid: PermanentError.InvalidInput,
  drift: PermanentError.MigrationDrift,
  dirty: PermanentError.MigrationDirty,
  'lock-timeout': PermanentError.MigrationLockTimeout,
  failed: PermanentError.MigrationFailed,
};

// Node socket errors and PostgreSQL's "try again" classes: worth a retry.
const TRANSIENT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', '57P01', '57P03', '53300', '08006', '08001']);
// Wrong password, no such role or database: retrying will not help.
const UNREACHABLE_CODES = new Set(['28P01', '28000', '3D000']);

function toFailure(err: unknown): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  const message = redactText((err as Error)?.message ?? String(err));
  if (err instanceof MigrationError) return permanentFailure(FAILURE_TYPE[err.kind], message, redactValue(err.details));
  const code = (err as { code?: string }).code ?? '';
  if (TRANSIENT_CODES.has(code)) return transientFailure(TransientError.NetworkError, `Cannot reach the database (${code}): ${message}`);
  if (UNREACHABLE_CODES.has(code)) return permanentFailure(PermanentError.DatabaseUnreachable, `The database refused the connection (${code}): ${message}`);
  return permanentFailure(PermanentError.MigrationFailed, message);
}

async function reportingFailures<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toFailure(err);
  }
}

/**
 * A long run heartbeats (Temporal delivers cancellation only then); the abort cancels the running
 * statement. A statement cut short by the worker's shutdown is no verdict on the migration: the
 * attempt fails retryably (a transactional migration was rolled back; another attempt applies it).
 */
async function heartbeating<T>(phase: string, fn: (control: Progress) => Promise<T>): Promise<T> {
  return withHeartbeat(phase, async (progress) => {
    try {
      return await reportingFailures(() => fn(progress));
    } catch (err) {
      if (progress.signal.aborted) throw interruptedAttempt(`the migration ${phase}`);
      throw err;
    }
  });
}
