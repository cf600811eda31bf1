// A database worth backing up: pgbench's tables (pgbench -i -s 1: 100,000 accounts) plus a schema
// with an enum, identity and explicit sequences, arrays, jsonb, numeric, bytea, uuid, timestamps and
// several kinds of index. Described here independently of the code under test.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { locatePostgresBinDir } from '../../../scripts/localPostgres.js';
import { createDatabase, withAdminClient } from '../../helpers/postgres.js';

const SAMPLE_SCHEMA = `
  create type mood as enum ('happy', 'ok', 'sad');
  create sequence invoice_number start 1000;
  create table customers (
    id bigint generated always as identity primary key,
    name text not null,
    email text unique,
    mood mood,
    tags text[],
    profile jsonb,
    balance numeric(12, 2),
    signed_up_at timestamptz default now(),
    avatar bytea,
    external_id uuid default gen_random_uuid()
  );
  create index customers_profile on customers using gin (profile);
  create index customers_happy_recent on customers (signed_up_at) where mood = 'happy';
  create table invoices (
    number integer primary key default nextval('invoice_number'),
    customer_id bigint not null references customers (id),
    amount numeric(10, 2) not null,
    issued_on date not null
  );
  create index invoices_by_customer on invoices (customer_id, issued_on desc);
  insert into customers (name, email, mood, tags, profile, balance, avatar)
    select 'customer ' || g, 'c' || g || '@example.com', (array['happy', 'ok', 'sad'])[1 + g % 3]::mood,
           array['tag' || g % 7, 'tier' || g % 3], jsonb_build_object('n', g, 'vip', g % 10 = 0),
           g * 1.25, decode(md5(g::text), 'hex')
    from generate_series(1, 2000) g;
  insert into invoices (customer_id, amount, issued_on)
    select 1 + g % 2000, g * 0.5, date '2026-01-01' + g % 300 from generate_series(1, 3000) g;
`;

export function libpqEnvOf(url: string): Record<string, string> {
  const parsed = new URL(url);
  return {
    PATH: process.env.PATH ?? '',
    PGHOST: parsed.hostname, PGPORT: parsed.port, PGUSER: decodeURIComponent(parsed.username),
    PGPASSWORD: decodeURIComponent(parsed.password), PGDATABASE: parsed.pathname.slice(1),
  };
}

/** A new database on the test server, filled with pgbench's tables and the sample schema. */
export async function createSampleDatabase(serverUrl: string, prefix = 'src'): Promise<string> {
  const url = await createDatabase(serverUrl, prefix);
  await promisify(execFile)(path.join(locatePostgresBinDir(), 'pgbench'), ['-i', '-s', '1', '-q'], { env: libpqEnvOf(url) });
  await withClient(url, (client) => client.query(SAMPLE_SCHEMA));
  return url;
}

/** A client on the given database for one piece of work (the shared test helper). */
export const withClient = withAdminClient;

export interface DatabaseDescription {
  rowCounts: Record<string, number>;
  columns: string[];
  indexes: string[];
  /** name = last value */
  sequences: string[];
}

/** What a person would compare after a restore: rows per table, columns with types, indexes, sequences. */
export async function describeDatabase(url: string): Promise<DatabaseDescription> {
  return withClient(url, async (client) => {
    const tables = (await client.query<{ table_name: string }>(
      `select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by 1`)).rows;
    const rowCounts: Record<string, number> = {};
    for (const { table_name: table } of tables) {
      rowCounts[table] = Number((await client.query<{ n: string }>(`select count(*) as n from public.${client.escapeIdentifier(table)}`)).rows[0]!.n);
    }
    const columns = (await client.query<{ c: string }>(
      `select table_name || '.' || column_name || ' ' || data_type as c from information_schema.columns where table_schema = 'public' order by 1`)).rows.map((r) => r.c);
    const indexes = (await client.query<{ i: string }>(`select indexdef as i from pg_indexes where schemaname = 'public' order by 1`)).rows.map((r) => r.i);
    const sequences = (await client.query<{ s: string }>(
      `select sequencename || ' = ' || coalesce(last_value::text, 'unused') as s from pg_sequences where schemaname = 'public' order by 1`)).rows.map((r) => r.s);
    return { rowCounts, columns, indexes, sequences };
  });
}
