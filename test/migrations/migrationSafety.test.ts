// Migrations that do not stall or corrupt production: lock_timeout with retries, an explicit
// statement_timeout, an atomic dirty marker, a clean session per migration, late merges refused.
import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { MigrationError } from '../../activities/migrations/errors.js';
import { applyPending, inspectDatabase } from '../../activities/migrations/migrator.js';
import { RECORD, eventually, optionsFor, useMigrationScratch, writeFiles } from './helpers.js';

const scratch = useMigrationScratch();

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

describe('migration safety on a real PostgreSQL', () => {
  it('gives up an ALTER queued behind a long reader after lock_timeout, lets other readers through, and retries until it applies', async () => {
    const db = await scratch.database();
    await db.query('create table accounts (id int); insert into accounts values (1), (2)');
    const folder = await scratch.folder({ '0001_add_email.up.sql': 'alter table accounts add column email text;\n' });
    // A pg_dump-like reader: ACCESS SHARE on the table, held for as long as its transaction lasts.
    const reader = await connect(db.url);
    await reader.query('begin; select count(*) from accounts');
    const progress: string[] = [];
    const applying = applyPending(await optionsFor(db.url, folder, {
      statementLockTimeoutMs: 200, lockRetries: 50, lockRetryDelayMs: 100, onProgress: (line) => progress.push(line),
    }), undefined, RECORD);
    try {
      await eventually(async () => progress.some((line) => line.includes('lock_timeout (200 ms) reached')), 'the ALTER gives up once');
      // The app's reads go through: at most one lock_timeout behind the queued ALTER, never indefinitely.
      const app = await connect(db.url);
      try {
        await app.query("set statement_timeout = '3s'");
        expect((await app.query('select count(*)::int as n from accounts')).rows).toEqual([{ n: 2 }]);
      } finally {
        await app.end();
      }
    } finally {
      await reader.query('commit');
      await reader.end();
    }
    const outcome = await applying;
    expect(outcome.appliedVersions).toEqual([1]);
    expect(await db.query(`select 1 from information_schema.columns where table_name = 'accounts' and column_name = 'email'`)).toHaveLength(1);
  });

  it('runs a migration past the database\'s own statement_timeout, with its explicit one', async () => {
    const db = await scratch.database();
    const name = new URL(db.url).pathname.slice(1);
    await db.query(`alter database ${name} set statement_timeout = '200ms'`);
    const folder = await scratch.folder({ '0001_slow.up.sql': 'select pg_sleep(0.6);\ncreate table slow_done (id int);\n' });

    const outcome = await applyPending(await optionsFor(db.url, folder), undefined, RECORD);

    expect(outcome.appliedVersions).toEqual([1]);
    expect(outcome.status.isDirty).toBe(false);
  });

  it('keeps the previous state when writing the dirty marker fails between its truncate and its insert', async () => {
    const db = await scratch.database();
    const folder = await scratch.folder({
      '0001_create_users.up.sql': 'create table users (id int);\n',
      '0002_index_users.up.sql': '-- flightdeck:no-transaction\ncreate index concurrently users_id on users (id);\n',
    });
    await applyPending(await optionsFor(db.url, folder), 1, RECORD);
    // The worker is lost right after the truncate: here, the insert that follows it fails.
    await db.query(`create function refuse_marker() returns trigger language plpgsql as $$ begin raise exception 'worker lost'; end $$;
      create trigger refuse_marker before insert on schema_migrations for each row execute function refuse_marker()`);

    const failure = await applyPending(await optionsFor(db.url, folder), undefined, RECORD).catch((err: unknown) => err);

    expect(failure).toBeInstanceOf(MigrationError);
    expect(await db.query('select version, dirty from schema_migrations')).toEqual([{ version: '1', dirty: false }]);
  });

  it('starts each migration from a clean session: a SET search_path in one does not move the next one or the state tables', async () => {
    const db = await scratch.database();
    await db.query('create schema elsewhere');
    const folder = await scratch.folder({
      '0001_switch_path.up.sql': 'set search_path = elsewhere;\ncreate table lands_elsewhere (id int);\n',
      '0002_create_orders.up.sql': 'create table orders (id int);\n',
    });

    const outcome = await applyPending(await optionsFor(db.url, folder), undefined, RECORD);

    expect(outcome.status.currentVersion).toBe(2);
    const tables = await db.query<{ t: string }>(`select table_schema || '.' || table_name as t from information_schema.tables
      where table_schema in ('public', 'elsewhere') order by 1`);
    expect(tables.map((r) => r.t)).toEqual(['elsewhere.lands_elsewhere', 'public.flightdeck_migration_history', 'public.orders', 'public.schema_migrations']);
  });

  it('reports a late-merged migration below the current version as drift and refuses to apply past it', async () => {
    const db = await scratch.database();
    const folder = await scratch.folder({
      '0001_create_users.up.sql': 'create table users (id int);\n',
      '0003_create_orders.up.sql': 'create table orders (id int);\n',
    });
    await applyPending(await optionsFor(db.url, folder), undefined, RECORD);
    // A branch merged later brings version 2, below the version the database is already at.
    await writeFiles(folder, { '0002_create_carts.up.sql': 'create table carts (id int);\n', '0004_create_invoices.up.sql': 'create table invoices (id int);\n' });
    const options = await optionsFor(db.url, folder);

    const status = await inspectDatabase(options);
    expect(status.drift).toEqual([expect.objectContaining({ version: 2, problem: 'unapplied', detail: expect.stringContaining('0002_create_carts.up.sql was never applied') })]);
    const refusal = await applyPending(options, undefined, RECORD).catch((err: unknown) => err);
    expect(refusal).toMatchObject({ kind: 'drift' });
    expect(await db.query(`select 1 from information_schema.tables where table_name in ('carts', 'invoices')`)).toEqual([]);
  });
});
