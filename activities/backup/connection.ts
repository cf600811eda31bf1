// A Postgres connection string, taken apart so that its password never becomes an argument or an
// environment variable: pg_dump and pg_restore read it from a 0600 passfile, the pg client from memory.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { PermanentError, permanentFailure } from '../../lib/errors.js';
import { registerSecretValues } from '../../lib/redact.js';

export interface PgEndpoint {
  host: string;
  port: number;
  user: string;
  password?: string;
  database: string;
  sslMode?: string;
  /** A PEM file of CA certificates (libpq sslrootcert): what verify-ca and verify-full trust. */
  sslRootCert?: string;
}

/** Postgres identifiers we create or name in commands: no quoting surprises, within NAMEDATALEN. */
export const PG_DATABASE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Parses a postgres:// URL. Errors name the secret, never its value. */
export function parseConnectionString(value: string, secretName: string): PgEndpoint {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw permanentFailure(PermanentError.ConfigInvalid, `secret ${secretName} is not a postgres:// URL`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw permanentFailure(PermanentError.ConfigInvalid, `secret ${secretName} is not a postgres:// URL (scheme ${url.protocol})`);
  }
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  registerSecretValues([password]);
  const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || 'postgres';
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost',
    port: url.port ? Number(url.port) : 5432,
    user: decodeURIComponent(url.username) || 'postgres',
    password,
    database,
    sslMode: url.searchParams.get('sslmode') ?? undefined,
    sslRootCert: url.searchParams.get('sslrootcert') ?? undefined,
  };
}

/** The database's configured TLS (databases.<db>.ssl) over what its URL says. */
export function withTlsSettings(endpoint: PgEndpoint, ssl: { mode?: string; rootCertFile?: string } | undefined): PgEndpoint {
  return { ...endpoint, sslMode: ssl?.mode ?? endpoint.sslMode, sslRootCert: ssl?.rootCertFile ?? endpoint.sslRootCert };
}

/** libpq's environment for pg_dump/pg_restore: the password stays in the passfile. */
export function libpqEnvironment(endpoint: PgEndpoint, database: string, passfile: string | undefined): Record<string, string> {
  const env: Record<string, string> = {
    PGHOST: endpoint.host,
    PGPORT: String(endpoint.port),
    PGUSER: endpoint.user,
    PGDATABASE: database,
    PGAPPNAME: 'flightdeck-backup',
    PGCONNECT_TIMEOUT: '20',
    PGOPTIONS: SESSION_OPTIONS,
    PGKEEPALIVES: '1',
    PGKEEPALIVES_IDLE: '10',
  };
  if (passfile) env.PGPASSFILE = passfile;
  if (endpoint.sslMode) env.PGSSLMODE = endpoint.sslMode;
  if (endpoint.sslRootCert) env.PGSSLROOTCERT = endpoint.sslRootCert;
  return env;
}

/** Startup options of every backup and restore session (and of pg_dump/pg_restore, through PGOPTIONS). */
export const SESSION_OPTIONS = '-c idle_in_transaction_session_timeout=0 -c statement_timeout=0';

export function pgClientConfig(endpoint: PgEndpoint, database: string): pg.ClientConfig {
  return {
    host: endpoint.host,
    port: endpoint.port,
    user: endpoint.user,
    password: endpoint.password,
    database,
    application_name: 'flightdeck-backup',
    connectionTimeoutMillis: 20_000,
    // A dump's snapshot holder sits idle in its transaction for the whole dump, and inventory counts
    // can outlast a role's statement_timeout: either timeout would kill it mid-backup. Keepalives
    // notice a dead peer instead of waiting on it forever.
    options: SESSION_OPTIONS,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    ssl: tlsOptions(endpoint),
  };
}

/**
 * libpq's sslmode for node-postgres: require encrypts without checking the certificate; verify-ca
 * checks it against the root certificates but not the host name; verify-full checks both.
 */
function tlsOptions(endpoint: PgEndpoint): pg.ClientConfig['ssl'] {
  const mode = endpoint.sslMode;
  if (mode !== 'require' && mode !== 'verify-ca' && mode !== 'verify-full') return undefined;
  if (mode === 'require') return { rejectUnauthorized: false };
  const ca = endpoint.sslRootCert ? readRootCertificates(endpoint.sslRootCert) : undefined;
  return { rejectUnauthorized: true, ...(ca ? { ca } : {}), ...(mode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}) };
}

function readRootCertificates(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw permanentFailure(PermanentError.ConfigInvalid, `the root certificates file ${file} (ssl.rootCertFile, or sslrootcert in the URL) cannot be read on the worker: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Writes a passfile (mode 0600, in a fresh 0700 directory) and returns it with its remover. */
export async function createPassfile(password: string): Promise<{ file: string; remove(): Promise<void> }> {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'flightdeck-pgpass-'));
  const file = path.join(dir, 'pgpass');
  // Any host, port, database and user: the file exists only for this one activity's connections.
  const escaped = password.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
  await fs.promises.writeFile(file, `*:*:*:*:${escaped}\n`, { mode: 0o600 });
  return { file, remove: () => fs.promises.rm(dir, { recursive: true, force: true }) };
}
