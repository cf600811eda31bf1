import path from 'node:path';
import { requestMigration } from '../../lib/databaseOperations.js';
import { resolveEnvironmentDatabase } from '../../lib/environmentDatabase.js';
import type { MigrateRequest, MigrateResult, MigrationAction } from '../../lib/messages.js';
import { describeMigrationSafety } from '../../lib/migrationSafety.js';
import type { Command, Session } from '../command.js';
import { reportStartedRun } from '../runReport.js';
import { UsageError } from '../usageError.js';
import { asUsage, expectArguments, resolveApp, resolveAppEnvironment, text, wholeNumber } from '../validation.js';

const ACTIONS: MigrationAction[] = ['status', 'plan', 'apply', 'rollback', 'force'];

export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'schema migrations of an app\'s database: status, plan, apply, rollback, force',
  usage: 'flightdeck migrate <app> status|plan|apply|rollback|force [--env ENV] [--to N] [--steps N] [--version N] [--workspace DIR] [--no-backup] [--no-wait] [--json]',
  details: `Runs a migration action on the database of an environment of <app> (environments.<env>.database in the
config; --env may be left out when only one environment has a database) and follows it.

  status          the applied version, pending migrations, drift and dirty state
  plan            what apply (or rollback with --steps/--to) would run, without running it, and what the
                  migration linter (squawk) finds in it: lock risks and rollback-incompatible statements
                  (--json: "safety"); an app's own migrateCommand is reported not analysable
  apply           apply pending migrations (up to --to N); a database with a "databases:" entry is
                  backed up (verified) first
  rollback        undo --steps N migrations, or down to --to N (kept; 0 undoes everything)
  force           record --version N as applied and clean, running nothing (recovery from a dirty state)

  --env ENV       the app environment whose database to migrate
  --workspace DIR the app's checkout, when the migrations folder in the config is relative
  --no-backup     skip the backup before apply/rollback (operator override of the config)

  flightdeck migrate shop status --env production
  flightdeck migrate shop rollback --steps 1 --env staging --workspace ~/src/shop`,
  options: {
    env: { type: 'string' }, to: { type: 'string' }, steps: { type: 'string' }, version: { type: 'string' },
    workspace: { type: 'string' }, 'no-backup': { type: 'boolean' },
  },
  prepare({ positionals, options, config, actor, identity }) {
    const [app, action] = expectArguments(positionals, 'migrate', 2, 2);
    const environment = text(options.env);
    resolveApp(config, app!);
    if (environment !== undefined) resolveAppEnvironment(config, 'migrate', app!, environment);
    const database = asUsage(() => resolveEnvironmentDatabase(config, app!, environment), 'migrate');
    if (!ACTIONS.includes(action as MigrationAction)) throw new UsageError(`migrate: unknown action "${action}"; expected one of ${ACTIONS.join(', ')}`, 'migrate');
    const forceVersion = wholeNumber(options.version, 'version');
    if (action === 'force' && forceVersion === undefined) throw new UsageError('migrate force needs --version N: the version to record as applied (0: none)', 'migrate');
    const request: MigrateRequest = {
      app: app!,
      action: action as MigrationAction,
      environment: database.environment,
      // The config decides the backup (databases.<name>.backupBeforeMigrate); --no-backup is the operator's override.
      ...(options['no-backup'] === true ? { backupFirst: false } : {}),
      ...optional('workspace', text(options.workspace) && path.resolve(text(options.workspace)!)),
      ...optional('toVersion', wholeNumber(options.to, 'to')),
      ...optional('steps', wholeNumber(options.steps, 'steps', 1)),
      ...optional('forceVersion', forceVersion),
      trigger: { source: 'cli', actor, identity },
    };
    return async (session) => {
      const workflowId = await requestMigration(session.client, session.taskQueue, request);
      const describeResult = () => printMigrationResult(session, workflowId);
      return (await reportStartedRun(session, { workflowId, describeResult }, options['no-wait'] !== true)).exitCode;
    };
  },
};

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}

async function printMigrationResult({ client, out }: Session, workflowId: string): Promise<MigrateResult> {
  const result = await client.workflow.getHandle(workflowId).result() as MigrateResult;
  if (result.status) {
    out.line(`current version: ${result.status.currentVersion}${result.status.isDirty ? ' (DIRTY)' : ''}`);
    for (const pending of result.status.pending) out.line(`  pending ${pending.version} ${pending.name}`);
    for (const drift of result.status.drift) out.line(`  drift ${drift.version} ${drift.name}: ${drift.problem} (${drift.detail})`);
    if (result.status.recovery) out.line(`  recovery: ${result.status.recovery}`);
  }
  for (const step of result.plan) out.line(`  ${step.direction} ${step.version} ${step.name}${step.isTransactional ? '' : ' (not in a transaction)'}`);
  if (result.safety) for (const line of describeMigrationSafety(result.safety).split('\n')) out.line(line);
  return result;
}
