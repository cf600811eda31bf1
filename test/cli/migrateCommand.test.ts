// `flightdeck migrate`, run as a real subprocess: the migrateDatabase workflow on the real Temporal
// server applies an app's migration files to a real PostgreSQL database.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities/index.js';
import { createSlackClient } from '../../activities/slack.js';
import { loadEnvConfig, parseAppsConfig } from '../../lib/config.js';
import { createLogger } from '../../lib/log.js';
import { locatePostgresBinDir } from '../../scripts/localPostgres.js';
import { startFakeSlack, type FakeSlack } from '../helpers/fakeSlack.js';
import { useWorkflowTestKit } from '../helpers/temporal.js';
import { FLIGHTDECK_WORKFLOWS } from '../helpers/workflowBundles.js';
import { SHOP_MIGRATIONS, useMigrationScratch, writeFiles } from '../migrations/helpers.js';
import { useFlightdeckCli } from './runFlightdeck.js';

const kit = useWorkflowTestKit(FLIGHTDECK_WORKFLOWS);
const scratch = useMigrationScratch();
// The worker reads the connection string by this name from its environment, as in production.
const SECRET_NAME = `CLI_SHOP_DATABASE_URL_${randomBytes(4).toString('hex').toUpperCase()}`;
let migrationsFolder = '';
let workDir = '';
let slack: FakeSlack;
const rawConfig = () => ({
  apps: {
    shop: { repository: workDir, database: { secret: SECRET_NAME, migrations: migrationsFolder }, environments: { staging: { flyApp: 'shop-staging' } } },
    // An app whose own tool migrates: Flightdeck cannot see its SQL.
    legacy: { repository: workDir, database: { secret: SECRET_NAME, migrateCommand: ['./bin/migrate', 'up'] }, environments: { staging: { flyApp: 'legacy-staging' } } },
  },
});
const cli = useFlightdeckCli(rawConfig);

beforeAll(async () => {
  slack = await startFakeSlack();
  process.env[SECRET_NAME] = (await scratch.database()).url;
  migrationsFolder = await scratch.folder(SHOP_MIGRATIONS);
  workDir = await scratch.folder({});
});
afterAll(async () => {
  delete process.env[SECRET_NAME];
  await slack?.close();
});

function activities() {
  return createActivities({
    env: loadEnvConfig({ SLACK_CHANNEL: '#db', FLIGHTDECK_WORK_DIR: path.join(workDir, '.work'), PG_BIN_DIR: locatePostgresBinDir() }),
    logger: createLogger({ level: 'silent' }),
    slack: createSlackClient('xoxb-test-token', slack.apiUrl),
    loadAppsConfig: () => parseAppsConfig(rawConfig()),
  });
}

describe('flightdeck migrate', { timeout: 180_000 }, () => {
  it('applies an app\'s pending migrations, printing the plan, then reports the schema version as JSON', async () => {
    const { applied, status } = await kit.withWorker(activities(), async (taskQueue) => ({
      applied: await cli.run(['migrate', 'shop', 'apply', '--env', 'staging'], { taskQueue }),
      status: await cli.run(['migrate', 'shop', 'status', '--json'], { taskQueue }),
    }));

    expect(applied.stderr).toBe('');
    expect(applied.exitCode).toBe(0);
    expect(applied.stdout).toMatch(/^migrate shop\/staging: migrate\/shop\/staging\/apply-\w+$/m);
    expect(applied.stdout).toMatch(/^- backup {2}skipped/m);
    expect(applied.stdout).toMatch(/^✓ migrate {2}succeeded {2}\d/m);
    expect(applied.stdout).toContain('current version: 4');
    expect(applied.stdout).toMatch(/^ {2}up 4 index_orders_by_user \(not in a transaction\)$/m);

    expect(status.exitCode).toBe(0);
    const output = JSON.parse(status.stdout) as { workflowId: string };
    expect(output).toMatchObject({ state: 'succeeded', result: { mode: 'files', status: { currentVersion: 4, isDirty: false, pending: [] } } });
    expect(output.workflowId).toMatch(/^migrate\/shop\/staging\/status-/);
  });

  it('prints what the migration linter finds in the plan, and carries the findings in --json', async () => {
    await writeFiles(migrationsFolder, { '0005_rename_user_name.up.sql': 'alter table users rename column name to full_name;\n' });
    const { printed, json } = await kit.withWorker(activities(), async (taskQueue) => ({
      printed: await cli.run(['migrate', 'shop', 'plan'], { taskQueue }),
      json: await cli.run(['migrate', 'shop', 'plan', '--json'], { taskQueue }),
    }));

    expect(printed.exitCode).toBe(0);
    expect(printed.stdout).toMatch(/^Migration safety: \d+ pending migrations? linted with squawk 2\.70\.0: 1 rollback-incompatible\.$/m);
    expect(printed.stdout).toContain('0005_rename_user_name.up.sql:1 [rollback-incompatible, renaming-column] alter table users rename column name to full_name;');
    expect(printed.stdout).toMatch(/^ {4}instead: Add the new column and write both/m);
    const output = JSON.parse(json.stdout) as { result: { safety: { mode: string; findings: Array<Record<string, unknown>> } } };
    expect(output.result.safety.mode).toBe('files');
    expect(output.result.safety.findings).toEqual([expect.objectContaining({
      migration: '5_rename_user_name', version: 5, line: 1, rule: 'renaming-column', category: 'rollbackIncompatible', statement: 'alter table users rename column name to full_name;',
    })]);
  });

  it('reports the plan of an app\'s own migrate command as not analysable', async () => {
    const printed = await kit.withWorker(activities(), (taskQueue) => cli.run(['migrate', 'legacy', 'plan'], { taskQueue }));

    expect(printed.exitCode).toBe(0);
    expect(printed.stdout).toContain('Migration safety: not analysable. The app migrates with its own command (./bin/migrate up): Flightdeck cannot see the SQL it will run');
  });

  it('refuses an unknown action with exit code 2 and lists the actions', async () => {
    const result = await cli.run(['migrate', 'shop', 'upgrade'], { temporalAddress: '127.0.0.1:1' });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('migrate: unknown action "upgrade"; expected one of status, plan, apply, rollback, force');
  });
});
