// The sandbox's demo database: a small shop schema with a few rows, so a backup has something real
// to dump, restore into a scratch copy and compare. Idempotent: a second start changes nothing.
import pg from 'pg';

export const DEMO_DATABASE_NAME = 'flightdeck_demo';

const SCHEMA = `
  create table if not exists customers (
    id serial primary key,
    name text not null,
    email text not null unique
  );
  create table if not exists orders (
    id serial primary key,
    customer_id integer not null references customers(id),
    total_cents integer not null check (total_cents >= 0),
    placed_at timestamptz not null default now()
  );`;

const SEED = `
  insert into customers (name, email)
    select 'Customer ' || n, 'customer' || n || '@example.com' from generate_series(1, 50) as n;
  insert into orders (customer_id, total_cents, placed_at)
    select 1 + (n % 50), 500 + (n * 37) % 20000, now() - (n || ' minutes')::interval from generate_series(1, 500) as n;`;

async function withClient<T>(connectionString: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates the demo database (if missing) with its tables and rows; returns its connection string. */
export async function ensureDemoDatabase(serverUrl: string): Promise<string> {
  await withClient(serverUrl, async (client) => {
    const existing = await client.query('select 1 from pg_database where datname = $1', [DEMO_DATABASE_NAME]);
    if (existing.rowCount === 0) await client.query(`create database ${DEMO_DATABASE_NAME}`);
  });
  const url = new URL(serverUrl);
  url.pathname = `/${DEMO_DATABASE_NAME}`;
  const demoUrl = url.toString();
  await withClient(demoUrl, async (client) => {
    await client.query(SCHEMA);
    const { rows } = await client.query<{ count: string }>('select count(*) as count from customers');
    if (Number(rows[0]!.count) === 0) await client.query(SEED);
  });
  return demoUrl;
}
