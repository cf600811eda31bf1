// Migration safety lint: squawk (the real binary) over a corpus of migrations, mapped to Flightdeck's two
// categories; safe migrations lint clean and apply on a real PostgreSQL.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createMigrationActivities } from '../../activities/migrations/index.js';
import { applyPending } from '../../activities/migrations/migrator.js';
import { buildMigrations } from '../../activities/migrations/plan.js';
import { lintMigrations, SquawkMissing } from '../../activities/migrations/squawk.js';
import { loadEnvConfig, parseAppsConfig } from '../../lib/config.js';
import { createLogger } from '../../lib/log.js';
import type { MigrationSafetyReport } from '../../lib/migrationSafety.js';
import { RECORD, optionsFor, useMigrationScratch, writeFiles } from './helpers.js';

const scratch = useMigrationScratch();

/** Migrations that must lint clean: each one is safe to run on a busy table and to roll the image back over. */
export const SAFE_MIGRATIONS: Record<string, string> = {
  '0001_create_accounts.up.sql': 'create table accounts (id bigint generated always as identity primary key, email text not null);\n',
  '0002_add_nickname.up.sql': 'alter table accounts add column nickname text;\nalter table accounts add column plan text default \'free\';\n',
  // golang-migrate style: the file wraps itself in a transaction, which Flightdeck drops (it gives each file one).
  '0003_create_orders.up.sql': 'BEGIN;\ncreate table orders (id bigint primary key, account_id bigint, total numeric);\ncomment on table orders is \'orders\';\nCOMMIT;\n',
  '0004_index_orders.up.sql': '-- flightdeck:no-transaction\ncreate index concurrently if not exists orders_account_idx on orders (account_id);\n',
  '0005_orders_account_fk.up.sql': 'alter table orders add constraint orders_account_fk foreign key (account_id) references accounts (id) not valid;\n',
  '0006_validate_fk.up.sql': 'alter table orders validate constraint orders_account_fk;\n',
};

function lint(files: Record<string, string>) {
  return lintMigrations('squawk', buildMigrations(Object.entries(files).map(([fileName, sql]) => ({ fileName, sql }))));
}

describe('linting migrations with squawk', () => {
  it('passes safe migrations clean, and they apply on PostgreSQL', async () => {
    expect(await lint(SAFE_MIGRATIONS)).toEqual([]);

    const db = await scratch.database();
    const outcome = await applyPending(await optionsFor(db.url, await scratch.folder(SAFE_MIGRATIONS)), undefined, RECORD);
    expect(outcome.appliedVersions).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('finds each lock risk with its statement, line and a way to avoid it', async () => {
    const findings = await lint({
      '0001_index.up.sql': '-- orders by total\ncreate index orders_total_idx on orders (total);\n',
      '0002_token.up.sql': 'alter table accounts add column token uuid default gen_random_uuid();\n',
      '0003_type.up.sql': 'alter table orders alter column total type bigint;\n',
      '0004_not_null.up.sql': 'alter table accounts alter column email set not null;\n',
      '0005_fk.up.sql': 'alter table orders add constraint orders_account_fk foreign key (account_id) references accounts (id);\n',
    });
    const lockRisks = findings.filter((f) => f.category === 'lockRisk');
    expect(lockRisks.map((f) => [f.fileName, f.rule])).toEqual([
      ['0001_index.up.sql', 'require-concurrent-index-creation'],
      ['0002_token.up.sql', 'adding-field-with-default'],
      ['0003_type.up.sql', 'changing-column-type'],
      ['0004_not_null.up.sql', 'adding-not-nullable-field'],
      ['0005_fk.up.sql', 'constraint-missing-not-valid'],
      ['0005_fk.up.sql', 'adding-foreign-key-constraint'],
    ]);
    expect(lockRisks[0]).toMatchObject({
      migration: '1_index', line: 2, statement: 'create index orders_total_idx on orders (total);',
      fix: expect.stringContaining('CREATE INDEX CONCURRENTLY, in its own migration whose first line is `-- flightdeck:no-transaction`'),
    });
    // A type change is both: it rewrites the table, and the previous image may not read the new type.
    expect(findings.filter((f) => f.rule === 'changing-column-type').map((f) => f.category)).toEqual(['lockRisk', 'rollbackIncompatible']);
  });

  it('finds a rename and a drop in a multi-statement file as rollback-incompatible, each at its own line', async () => {
    const findings = await lint({
      '0007_reshape.up.sql': [
        'alter table accounts add column display_name text;',
        'alter table accounts rename column nickname to handle;',
        '',
        'alter table accounts',
        '  drop column plan;',
        'drop table legacy_sessions;',
      ].join('\n'),
    });
    expect(findings.map((f) => [f.line, f.rule, f.category])).toEqual([
      [2, 'renaming-column', 'rollbackIncompatible'],
      [4, 'ban-drop-column', 'rollbackIncompatible'],
      [6, 'ban-drop-table', 'rollbackIncompatible'],
    ]);
    expect(findings[1]).toMatchObject({ statement: 'alter table accounts drop column plan;', fix: expect.stringContaining('expand') });
  });

  it('finds renames and drops of views, functions and types as rollback-incompatible too', async () => {
    const findings = await lint({
      '0008_reports.up.sql': [
        'alter view order_totals rename to order_sums;',
        'drop view legacy_report;',
        'alter function order_total(bigint) rename to order_sum;',
        "alter type order_state rename value 'paid' to 'settled';",
      ].join('\n'),
    });
    expect(findings.map((f) => [f.line, f.rule, f.category])).toEqual([
      [1, 'renaming-object', 'rollbackIncompatible'],
      [2, 'ban-drop-view', 'rollbackIncompatible'],
      [3, 'renaming-object', 'rollbackIncompatible'],
      [4, 'renaming-object', 'rollbackIncompatible'],
    ]);
  });

  it('takes a migration outside a transaction as one, and one inside as one', async () => {
    // CONCURRENTLY is right outside a transaction; inside one, the index build would hold its lock to the end.
    const findings = await lint({
      '0001_outside.up.sql': '-- flightdeck:no-transaction\ncreate index concurrently if not exists a_idx on orders (account_id);\ndrop index concurrently if exists b_idx;\n',
      '0002_inside.up.sql': 'drop index b_idx;\n',
    });
    expect(findings.map((f) => [f.fileName, f.rule])).toEqual([['0002_inside.up.sql', 'require-concurrent-index-deletion']]);
  });

  it('says how to install squawk when it is missing', async () => {
    const files = buildMigrations([{ fileName: '0001_a.up.sql', sql: 'select 1;' }]);
    await expect(lintMigrations('/nonexistent/squawk', files)).rejects.toThrow(SquawkMissing);
    await expect(lintMigrations('/nonexistent/squawk', files)).rejects.toThrow(/npm run setup/);
  });
});

describe('the lint activity', () => {
  const secretName = `LINT_DATABASE_URL_${randomBytes(4).toString('hex').toUpperCase()}`;
  afterAll(() => { delete process.env[secretName]; });

  async function activitiesFor(database: Record<string, unknown>) {
    const workspace = await scratch.folder({});
    const config = parseAppsConfig({ apps: { shop: { repository: workspace, environments: { production: { flyApp: 'shop', database: { secret: secretName, ...database } } } } } });
    const activities = createMigrationActivities({ env: loadEnvConfig({}), logger: createLogger({ level: 'silent' }), loadAppsConfig: () => config });
    return { workspace, activities };
  }

  it('lints only the migrations still pending on the database', async () => {
    const db = await scratch.database();
    process.env[secretName] = db.url;
    const { workspace, activities } = await activitiesFor({ migrations: 'db/migrations' });
    await fs.mkdir(path.join(workspace, 'db/migrations'), { recursive: true });
    await writeFiles(path.join(workspace, 'db/migrations'), { '0001_create.up.sql': 'create table legacy (id bigint primary key);\n' });
    await applyPending(await optionsFor(db.url, path.join(workspace, 'db/migrations')), undefined, RECORD);
    // Applied long ago, and its drop is pending now.
    await writeFiles(path.join(workspace, 'db/migrations'), { '0002_drop_legacy.up.sql': 'drop table legacy;\n' });

    const report = await new MockActivityEnvironment().run(activities.lintPendingMigrations, { app: 'shop', environment: 'production', workspace }) as MigrationSafetyReport;

    expect(report).toMatchObject({ mode: 'files', linter: 'squawk 2.70.0', migrations: ['2_drop_legacy'] });
    expect(report.findings.map((f) => [f.migration, f.rule, f.category])).toEqual([['2_drop_legacy', 'ban-drop-table', 'rollbackIncompatible']]);
  });

  it('reports an app\'s own migrate command as not analysable', async () => {
    const { workspace, activities } = await activitiesFor({ migrateCommand: ['./migrate.sh'] });

    const report = await new MockActivityEnvironment().run(activities.lintPendingMigrations, { app: 'shop', environment: 'production', workspace }) as MigrationSafetyReport & { summary: string };

    expect(report).toMatchObject({ mode: 'command', findings: [] });
    expect(report.summary).toContain('Migration safety: not analysable. The app migrates with its own command (./migrate.sh): Flightdeck cannot see the SQL');
  });
});
