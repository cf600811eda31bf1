import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MigrationError } from '../../activities/migrations/errors.js';
import { applyPending, forceVersion, inspectDatabase, rollBack, stateOf } from '../../activities/migrations/migrator.js';
import { planApply, sha256 } from '../../activities/migrations/plan.js';
import { RECORD, SHOP_MIGRATIONS, optionsFor, tablesOf, useMigrationScratch, writeFiles } from './helpers.js';

const scratch = useMigrationScratch();

async function failureOf(promise: Promise<unknown>): Promise<MigrationError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  if (!(err instanceof MigrationError)) throw new Error(`expected a MigrationError, got ${String(err)}`);
  return err;
}

describe('migrator on a real PostgreSQL', () => {
  it('applies all pending migrations in order, then reports no pending and an empty plan', async () => {
    const db = await scratch.database();
    const options = await optionsFor(db.url, await scratch.folder(SHOP_MIGRATIONS));

    const before = await inspectDatabase(options);
    expect(before).toMatchObject({ currentVersion: 0, isDirty: false, applied: [], drift: [] });
    expect(before.pending.map((m) => m.version)).toEqual([1, 2, 3, 4]);
    const plan = planApply(options.migrations, stateOf(before));
    expect(plan.map((step) => step.script.sql)).toEqual([1, 2, 3, 4].map((v) => Object.entries(SHOP_MIGRATIONS).find(([f]) => f.startsWith(`000${v}_`) && f.endsWith('.up.sql'))![1]));

    const outcome = await applyPending(options, undefined, RECORD);

    expect(outcome.appliedVersions).toEqual([1, 2, 3, 4]);
    expect(outcome.status).toMatchObject({ currentVersion: 4, isDirty: false, pending: [] });
    expect(await tablesOf(db.query)).toEqual(['flightdeck_migration_history', 'orders', 'schema_migrations', 'users']);
    expect(await db.query(`select indexname from pg_indexes where indexname = 'orders_user_id_idx'`)).toHaveLength(1);
    expect(planApply(options.migrations, stateOf(await inspectDatabase(options)))).toEqual([]);
  });

  it('rolls back two migrations with their down files, then re-applies them', async () => {
    const db = await scratch.database();
    const options = await optionsFor(db.url, await scratch.folder(SHOP_MIGRATIONS));
    await applyPending(options, undefined, RECORD);

    const rolledBack = await rollBack(options, { steps: 2 }, RECORD);

    expect(rolledBack.rolledBackVersions).toEqual([4, 3]);
    expect(rolledBack.status).toMatchObject({ currentVersion: 2, isDirty: false });
    expect(rolledBack.status.pending.map((m) => m.version)).toEqual([3, 4]);
    expect(await db.query(`select 1 from information_schema.columns where table_name = 'users' and column_name = 'name'`)).toHaveLength(0);
    expect(await db.query(`select 1 from pg_indexes where indexname = 'orders_user_id_idx'`)).toHaveLength(0);

    const reapplied = await applyPending(options, undefined, RECORD);
    expect(reapplied.appliedVersions).toEqual([3, 4]);
    expect(reapplied.status.currentVersion).toBe(4);
  });

  it('leaves schema_migrations exactly as golang-migrate would: one row, the highest version, clean', async () => {
    const db = await scratch.database();
    const options = await optionsFor(db.url, await scratch.folder(SHOP_MIGRATIONS));
    await applyPending(options, undefined, RECORD);
    await rollBack(options, { toVersion: 3 }, RECORD);

    const columns = await db.query(`select column_name, data_type, is_nullable from information_schema.columns
      where table_name = 'schema_migrations' order by ordinal_position`);
    expect(columns).toEqual([
      { column_name: 'version', data_type: 'bigint', is_nullable: 'NO' },
      { column_name: 'dirty', data_type: 'boolean', is_nullable: 'NO' },
    ]);
    const primaryKey = await db.query(`select a.attname from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
      where i.indrelid = 'schema_migrations'::regclass and i.indisprimary`);
    expect(primaryKey).toEqual([{ attname: 'version' }]);
    expect(await db.query('select version, dirty from schema_migrations')).toEqual([{ version: '3', dirty: false }]);

    await rollBack(options, { toVersion: 0 }, RECORD);
    expect(await db.query('select * from schema_migrations')).toEqual([]);
  });

  it('carries on from a database that golang-migrate migrated', async () => {
    const db = await scratch.database();
    await db.query('create table schema_migrations (version bigint not null primary key, dirty boolean not null)');
    await db.query(`${SHOP_MIGRATIONS['0001_create_users.up.sql']} ${SHOP_MIGRATIONS['0002_create_orders.up.sql']}`);
    await db.query('insert into schema_migrations values (2, false)');
    const options = await optionsFor(db.url, await scratch.folder(SHOP_MIGRATIONS));

    const outcome = await applyPending(options, undefined, RECORD);

    expect(outcome.appliedVersions).toEqual([3, 4]);
    expect(await db.query('select version, dirty from schema_migrations')).toEqual([{ version: '4', dirty: false }]);
  });

  it('records every run in the history: version, direction, file checksum, duration, who, release and backup', async () => {
    const db = await scratch.database();
    const options = await optionsFor(db.url, await scratch.folder(SHOP_MIGRATIONS));
    await applyPending(options, 2, { ...RECORD, workflowId: 'migrate-shop-1', backupId: 'backup-7' });
    await rollBack(options, { steps: 1 }, { ranBy: 'slack:alice' });

    const history = await db.query(`select version, name, direction, status, checksum, duration_ms, ran_by, workflow_id, release_version, backup_id
      from flightdeck_migration_history order by id`);

    expect(history).toEqual([
      { version: '1', name: 'create_users', direction: 'up', status: 'succeeded', checksum: sha256(SHOP_MIGRATIONS['0001_create_users.up.sql']!),
        duration_ms: expect.any(Number), ran_by: 'cli:test', workflow_id: 'migrate-shop-1', release_version: 'v42', backup_id: 'backup-7' },
      { version: '2', name: 'create_orders', direction: 'up', status: 'succeeded', checksum: sha256(SHOP_MIGRATIONS['0002_create_orders.up.sql']!),
        duration_ms: expect.any(Number), ran_by: 'cli:test', workflow_id: 'migrate-shop-1', release_version: 'v42', backup_id: 'backup-7' },
      { version: '2', name: 'create_orders', direction: 'down', status: 'succeeded', checksum: sha256(SHOP_MIGRATIONS['0002_create_orders.down.sql']!),
        duration_ms: expect.any(Number), ran_by: 'slack:alice', workflow_id: null, release_version: null, backup_id: null },
    ]);
  });

  it('rolls a failing migration back as a whole: the database is as before it, and the failure says where', async () => {
    const db = await scratch.database();
    const options = await optionsFor(db.url, await scratch.folder({
      ...SHOP_MIGRATIONS,
      '0005_add_audit.up.sql': 'create table audit (id int);\ninsert into audit values (1);\ninsert into no_such_table values (1);\n',
    }));

    const failure = await failureOf(applyPending(options, undefined, RECORD));

    expect(failure.kind).toBe('failed');
    expect(failure.message).toMatch(/5_add_audit \(up\) failed and was rolled back: relation "no_such_table" does not exist; at line 3 of 0005_add_audit.up.sql\. The database is unchanged by it, at version 4/);
    expect(failure.details).toMatchObject({ appliedVersions: [1, 2, 3, 4], failedVersion: 5, isDirty: false });
    expect(await tablesOf(db.query)).not.toContain('audit');
    expect(await db.query('select version, dirty from schema_migrations')).toEqual([{ version: '4', dirty: false }]);
    expect(await db.query(`select status from flightdeck_migration_history where version = 5`)).toEqual([{ status: 'failed' }]);
  });

  it('marks the database dirty when a non-transactional migration fails part-way, guides recovery, and force gets it going again', async () => {
    const db = await scratch.database();
    const dir = await scratch.folder({
      ...SHOP_MIGRATIONS,
      '0005_add_archive.up.sql': '-- flightdeck:no-transaction\ncreate table archive (id int);\ncreate index concurrently archive_idx on no_such_table (id);\n',
    });
    const failure = await failureOf(applyPending(await optionsFor(db.url, dir), undefined, RECORD));

    expect(failure.details).toMatchObject({ failedVersion: 5, isDirty: true });
    expect(failure.message).toMatch(/failed part-way outside a transaction: relation "no_such_table" does not exist; at statement 2 of 2, line 3 of 0005_add_archive.up.sql\. The database is now DIRTY/);
    expect(await db.query('select version, dirty from schema_migrations')).toEqual([{ version: '5', dirty: true }]);
    expect(await tablesOf(db.query)).toContain('archive');

    const refusal = await failureOf(applyPending(await optionsFor(db.url, dir), undefined, RECORD));
    expect(refusal.kind).toBe('dirty');
    expect(refusal.message).toMatch(/dirty at version 5: 5_add_archive failed part-way: relation "no_such_table" does not exist/);
    expect(refusal.message).toMatch(/forceVersion 5 if the migration's changes are now complete, or forceVersion 4 if they are fully undone/);

    // The operator undoes the part that ran, fixes the file, forces the version before it, and applies.
    await db.query('drop table archive');
    await writeFiles(dir, { '0005_add_archive.up.sql': '-- flightdeck:no-transaction\ncreate table archive (id int);\ncreate index concurrently archive_idx on archive (id);\n' });
    const forced = await forceVersion(await optionsFor(db.url, dir), 4, { ranBy: 'slack:alice' });
    expect(forced).toMatchObject({ currentVersion: 4, isDirty: false });

    const outcome = await applyPending(await optionsFor(db.url, dir), undefined, RECORD);
    expect(outcome.appliedVersions).toEqual([5]);
    expect(await db.query('select version, dirty from schema_migrations')).toEqual([{ version: '5', dirty: false }]);
  });

  it('stops before running anything when an applied migration file changed', async () => {
    const db = await scratch.database();
    const dir = await scratch.folder(SHOP_MIGRATIONS);
    await applyPending(await optionsFor(db.url, dir), undefined, RECORD);
    await writeFiles(dir, {
      '0002_create_orders.up.sql': 'create table orders (id bigserial primary key);\n',
      '0005_add_coupons.up.sql': 'create table coupons (code text primary key);\n',
    });
    const options = await optionsFor(db.url, dir);

    const failure = await failureOf(applyPending(options, undefined, RECORD));

    expect(failure.kind).toBe('drift');
    expect(failure.message).toMatch(/0002_create_orders.up.sql changed after it was applied/);
    expect((await inspectDatabase(options)).drift).toEqual([expect.objectContaining({ version: 2, problem: 'changed' })]);
    expect(await tablesOf(db.query)).not.toContain('coupons');
  });

  it('stops before running anything when an applied migration file is gone', async () => {
    const db = await scratch.database();
    const dir = await scratch.folder(SHOP_MIGRATIONS);
    await applyPending(await optionsFor(db.url, dir), undefined, RECORD);
    await fs.rm(path.join(dir, '0003_add_user_name.up.sql'));
    await fs.rm(path.join(dir, '0003_add_user_name.down.sql'));

    const failure = await failureOf(rollBack(await optionsFor(db.url, dir), { steps: 1 }, RECORD));

    expect(failure.kind).toBe('drift');
    expect(failure.message).toMatch(/version 3 was applied, but its .up.sql file is no longer in the migrations folder/);
    expect(await db.query('select version from schema_migrations')).toEqual([{ version: '4' }]);
  });

  it('refuses a rollback that lacks a down file, and rolls back nothing', async () => {
    const db = await scratch.database();
    const { '0003_add_user_name.down.sql': _missing, ...withoutDown } = SHOP_MIGRATIONS;
    const options = await optionsFor(db.url, await scratch.folder(withoutDown));
    await applyPending(options, undefined, RECORD);

    const failure = await failureOf(rollBack(options, { toVersion: 1 }, RECORD));

    expect(failure.kind).toBe('invalid');
    expect(failure.message).toMatch(/Rollback refused: no .down.sql file for 3_add_user_name/);
    expect(await db.query('select version from schema_migrations')).toEqual([{ version: '4' }]);
  });

  it('runs golang-migrate style files that wrap themselves in BEGIN/COMMIT inside its own transaction', async () => {
    const db = await scratch.database();
    const options = await optionsFor(db.url, await scratch.folder({
      '0001_wrapped.up.sql': 'BEGIN;\ncreate table wrapped (id int);\ninsert into wrapped values (1);\ninsert into nope values (1);\nCOMMIT;\n',
    }));

    const failure = await failureOf(applyPending(options, undefined, RECORD));

    expect(failure.message).toMatch(/rolled back: relation "nope" does not exist; at line 4 of 0001_wrapped.up.sql/);
    expect(await tablesOf(db.query)).not.toContain('wrapped');
  });
});
