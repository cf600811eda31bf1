// Gives each test file its own fresh database on the run's PostgreSQL server.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, inject } from 'vitest';
import pg from 'pg';

export interface TestDatabase {
  /** Connection string of this file's database. */
  readonly url: string;
  readonly name: string;
  /** The server's superuser connection string (to create or drop more databases). */
  readonly serverUrl: string;
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
}

export function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

export async function withAdminClient<T>(serverUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates an empty database with a unique name and returns its connection string. */
export async function createDatabase(serverUrl: string, prefix = 't'): Promise<string> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  await withAdminClient(serverUrl, (c) => c.query(`create database ${name}`));
  return databaseUrl(serverUrl, name);
}

export async function dropDatabase(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  await withAdminClient(databaseUrl(url, 'postgres'), (c) => c.query(`drop database if exists ${name} with (force)`));
}

/** Call at the top level of a test file. */
export function useTestDatabase(): TestDatabase {
  let url = '';
  let pool: pg.Pool | undefined;
  beforeAll(async () => {
    url = await createDatabase(inject('postgresUrl'));
    pool = new pg.Pool({ connectionString: url, max: 4 });
    // An idle connection ended by the server (the database dropped WITH (FORCE), a test terminating
    // sessions) is no failure of the test: queries still get their own errors.
    pool.on('error', () => undefined);
  });
  afterAll(async () => {
    await pool?.end();
    if (url) await dropDatabase(url);
  });
  return {
    get url() { return url; },
    get name() { return new URL(url).pathname.slice(1); },
    get serverUrl() { return inject('postgresUrl'); },
    query: (sql, params) => pool!.query(sql, params),
  };
}
