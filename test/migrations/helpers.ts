import esbuild from 'esbuild';
// Shared set-up for the migration tests: scratch migration folders, fresh databases, and the
// sample migrations of a small shop app.
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, inject } from 'vitest';
import pg from 'pg';
import { readMigrationsFolder } from '../../activities/migrations/files.js';
import type { MigratorOptions } from '../../activities/migrations/migrator.js';
import { createDatabase, dropDatabase } from '../helpers/postgres.js';

export const SHOP_MIGRATIONS: Record<string, string> = {
  '0001_create_users.up.sql': 'create table users (id serial primary key, email text not null);\n',
  '0001_create_users.down.sql': 'drop table users;\n',
  '0002_create_orders.up.sql': 'create table orders (id serial primary key, user_id int not null references users (id), total numeric not null);\n',
  '0002_create_orders.down.sql': 'drop table orders;\n',
  '0003_add_user_name.up.sql': 'alter table users add column name text;\n',
  '0003_add_user_name.down.sql': 'alter table users drop column name;\n',
  '0004_index_orders_by_user.up.sql': '-- flightdeck:no-transaction\ncreate index concurrently orders_user_id_idx on orders (user_id);\n',
  '0004_index_orders_by_user.down.sql': '-- flightdeck:no-transaction\ndrop index concurrently orders_user_id_idx;\n',
};

export const RECORD = { ranBy: 'cli:test', releaseVersion: 'v42' };

/** Call at the top level of a test file: scratch folders and databases, removed after the file. */
export function useMigrationScratch() {
  const folders: string[] = [];
  const databases: string[] = [];
  const pools: pg.Pool[] = [];
  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.end()));
    await Promise.all(databases.map((url) => dropDatabase(url)));
    await Promise.all(folders.map((dir) => fs.rm(dir, { recursive: true, force: true })));
  });

  return {
    async folder(files: Record<string, string>): Promise<string> {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'flightdeck-migrations-'));
      folders.push(dir);
      await writeFiles(dir, files);
      return dir;
    },

    /** An empty database and a pool to look at it with. */
    async database(): Promise<{ url: string; query: <R extends pg.QueryResultRow>(sql: string, params?: unknown[]) => Promise<R[]> }> {
      const url = await createDatabase(inject('postgresUrl'), 'mig');
      databases.push(url);
      const pool = new pg.Pool({ connectionString: url, max: 2 });
      // An idle connection ended by the server (the database dropped WITH (FORCE) at the end, a test
      // terminating sessions) is no failure of the test: queries still get their own errors.
      pool.on('error', () => undefined);
      pools.push(pool);
      return { url, query: async (sql, params) => (await pool.query(sql, params)).rows };
    },
  };
}

export async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  await Promise.all(Object.entries(files).map(([name, sql]) => fs.writeFile(path.join(dir, name), sql)));
}

export async function optionsFor(url: string, dir: string, extra: Partial<MigratorOptions> = {}): Promise<MigratorOptions> {
  return { connectionString: url, migrations: await readMigrationsFolder(dir), lockTimeoutMs: 10_000, ...extra };
}

/** The tables of the public schema, sorted. */
export async function tablesOf(query: (sql: string) => Promise<Array<{ table_name: string }>>): Promise<string[]> {
  const rows = await query(`select table_name from information_schema.tables where table_schema = 'public' order by table_name`);
  return rows.map((row) => row.table_name);
}

/** Resolves once `probe` returns true, checking every 20 ms; fails after timeoutMs. */
export async function eventually(probe: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * An app's own migration tool, as a script in its checkout: it connects with DATABASE_URL from its
 * environment and records the arguments it was given. With `failWith`, it prints that and exits 3.
 */
/**
 * An app's own migration tool (a checkout's `migrate.mjs`) and the pg client it imports, bundled
 * into the checkout: repository commands run sandboxed, where nothing outside the checkout but the
 * read-only system is visible (the repository's node_modules may sit under the sandbox's private /tmp).
 */
export function appMigrationTool(options: { failWith?: string } = {}): Record<string, string> {
  if (options.failWith !== undefined) {
    return { 'migrate.mjs': `console.error(${JSON.stringify(options.failWith)}.replace('$DATABASE_URL', process.env.DATABASE_URL));\nprocess.exit(3);\n` };
  }
  const script = [
    "const { default: pg } = await import('./pg-bundle.cjs');",
    'const client = new pg.Client({ connectionString: process.env.DATABASE_URL });',
    'await client.connect();',
    "await client.query('create table made_by_app_tool (args text)');",
    "await client.query('insert into made_by_app_tool values ($1)', [JSON.stringify(process.argv.slice(2))]);",
    'await client.end();',
    "console.log('2 migrations applied by the app tool');",
  ].join('\n');
  return { 'migrate.mjs': script, 'pg-bundle.cjs': pgBundle() };
}

let pgBundleText: string | undefined;

function pgBundle(): string {
  pgBundleText ??= esbuild.buildSync({
    entryPoints: [createRequire(import.meta.url).resolve('pg')], bundle: true, platform: 'node', format: 'cjs', write: false,
    external: ['pg-native', 'pg-cloudflare'], logLevel: 'silent',
  }).outputFiles[0]!.text;
  return pgBundleText;
}
