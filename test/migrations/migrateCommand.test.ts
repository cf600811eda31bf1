import { afterAll, describe, expect, it } from 'vitest';
import { parseAppsConfig } from '../../lib/config.js';
import { MigrationError } from '../../activities/migrations/errors.js';
import { runMigrateCommand } from '../../activities/migrations/migrateCommand.js';
import { RECORD, appMigrationTool, useMigrationScratch } from './helpers.js';

const scratch = useMigrationScratch();
const OTHER_SECRET = 'BILLING_DATABASE_URL';
afterAll(() => { delete process.env[OTHER_SECRET]; });

async function appWithTool(files: Record<string, string>) {
  const db = await scratch.database();
  const checkout = await scratch.folder(files);
  const options = { connectionString: db.url, command: [process.execPath, 'migrate.mjs', '--all'], cwd: checkout, timeoutMs: 30_000, lockTimeoutMs: 5_000 };
  return { db, options };
}

describe("an app's own migration command", () => {
  it('runs with the database URL in its environment only, never in its arguments, and is recorded in the history', async () => {
    const { db, options } = await appWithTool(appMigrationTool());

    const outcome = await runMigrateCommand(options, RECORD);

    expect(outcome.lastOutputLine).toBe('2 migrations applied by the app tool');
    expect(await db.query('select args from made_by_app_tool')).toEqual([{ args: '["--all"]' }]);
    expect(await db.query('select version, name, direction, status, ran_by from flightdeck_migration_history'))
      .toEqual([{ version: null, name: `${process.execPath} migrate.mjs --all`, direction: 'command', status: 'succeeded', ran_by: 'cli:test' }]);
  });

  it('reports a failing command with its last output line, the connection string redacted', async () => {
    const { db, options } = await appWithTool(appMigrationTool({ failWith: 'FATAL cannot migrate $DATABASE_URL' }));
    const password = decodeURIComponent(new URL(db.url).password);

    const failure = await runMigrateCommand(options, RECORD).catch((e: unknown) => e);

    expect(failure).toBeInstanceOf(MigrationError);
    const message = (failure as MigrationError).message;
    expect(message).toMatch(/migrate.mjs --all" exited with 3: FATAL cannot migrate postgres(ql)?:\/\/\w+:\[REDACTED\]@/);
    expect(message.includes(password)).toBe(false);
    const [history] = await db.query<{ status: string; error: string }>('select status, error from flightdeck_migration_history');
    expect(history!.status).toBe('failed');
    expect(history!.error.includes(password)).toBe(false);
  });

  it('sees its own database as DATABASE_URL and no other database secret of the worker', async () => {
    // Another app's database, configured and set in the worker's environment.
    parseAppsConfig({ databases: { billing: { secret: OTHER_SECRET } } });
    process.env[OTHER_SECRET] = 'postgres://billing:billing-password-7@billing.internal/billing';
    const printConnections = 'console.log(JSON.stringify({ names: Object.keys(process.env).filter((n) => /DATABASE|^PG/.test(n)), database: new URL(process.env.DATABASE_URL).pathname }))';
    const { db, options } = await appWithTool({ 'migrate.mjs': printConnections });

    const outcome = await runMigrateCommand(options, RECORD);

    expect(JSON.parse(outcome.lastOutputLine)).toEqual({ names: ['DATABASE_URL'], database: new URL(db.url).pathname });
  });
});
