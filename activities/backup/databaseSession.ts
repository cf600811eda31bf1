// Access to a configured database for one activity: the secret read by name, a fly proxy when the
// database is only on Fly's private network, a passfile for pg_dump/pg_restore, and clean-up of all
// of it afterwards. The connection string lives only inside this scope.
import pg from 'pg';
import { childProcessEnv, readSecret, type AppsConfig, type DatabaseConfig, type EnvConfig } from '../../lib/config.js';
import { PermanentError, permanentFailure, transientFailure, TransientError } from '../../lib/errors.js';
import { redactText } from '../../lib/redact.js';
import { createPassfile, libpqEnvironment, parseConnectionString, pgClientConfig, withTlsSettings, type PgEndpoint } from './connection.js';
import { startFlyProxy } from '../fly.js';

export interface DatabaseSession {
  /** The database named in the connection string. */
  readonly defaultDatabase: string;
  /** The environment for pg_dump/pg_restore connecting to `database`. */
  commandEnv(database?: string): Record<string, string>;
  /** A connected pg client; the caller ends it. */
  connect(database?: string): Promise<pg.Client>;
}

export interface SessionOptions {
  config: AppsConfig;
  database: string;
  env: EnvConfig;
  signal?: AbortSignal;
  /** Another server of this database's (its verifySecret): that secret, reached directly (no fly proxy). */
  serverSecret?: string;
}

export function databaseConfigOf(config: AppsConfig, database: string): DatabaseConfig {
  const dbConfig = config.databases[database];
  if (!dbConfig) {
    throw permanentFailure(PermanentError.ConfigInvalid, `unknown database "${database}"; configured: ${Object.keys(config.databases).join(', ') || '(none)'}`);
  }
  return dbConfig;
}

export async function withDatabaseSession<T>(options: SessionOptions, fn: (session: DatabaseSession) => Promise<T>): Promise<T> {
  const dbConfig = databaseConfigOf(options.config, options.database);
  const secret = options.serverSecret ?? dbConfig.secret;
  const connectionString = readSecret(secret);
  if (!connectionString) throw permanentFailure(PermanentError.ConfigInvalid, `secret ${secret} (database ${options.database}) is not set in the worker environment`);
  let endpoint = withTlsSettings(parseConnectionString(connectionString, secret), dbConfig.ssl);
  const cleanups: Array<() => Promise<void>> = [];
  try {
    const baseEnv = commandBaseEnv();
    if (dbConfig.flyProxy && !options.serverSecret) {
      const proxy = await startFlyProxy({
        flyctlPath: options.env.FLYCTL_PATH, flyApp: dbConfig.flyProxy.app, remotePort: dbConfig.flyProxy.remotePort,
        env: { ...baseEnv, ...(options.env.flyToken ? { FLY_API_TOKEN: options.env.flyToken } : {}), FLY_NO_UPDATE_CHECK: '1', NO_COLOR: '1' },
        signal: options.signal,
      });
      cleanups.push(proxy.stop);
      endpoint = { ...endpoint, host: '127.0.0.1', port: proxy.localPort };
    }
    const passfile = endpoint.password ? await createPassfile(endpoint.password) : undefined;
    if (passfile) cleanups.push(passfile.remove);
    return await fn(createSession(endpoint, baseEnv, passfile?.file));
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  }
}

function createSession(endpoint: PgEndpoint, baseEnv: Record<string, string>, passfile: string | undefined): DatabaseSession {
  return {
    defaultDatabase: endpoint.database,
    commandEnv: (database = endpoint.database) => ({ ...baseEnv, ...libpqEnvironment(endpoint, database, passfile) }),
    async connect(database = endpoint.database) {
      const client = new pg.Client(pgClientConfig(endpoint, database));
      // An idle client's socket error must not crash the worker; the next query reports it.
      client.on('error', () => undefined);
      try {
        await client.connect();
      } catch (err) {
        await client.end().catch(() => undefined);
        throw connectionFailure(database, err);
      }
      return client;
    },
  };
}

/**
 * The child environment (every configured secret already stripped) without anything that could point
 * libpq elsewhere: inherited PG* variables (PGSERVICE, PGHOST…) are removed too.
 */
function commandBaseEnv(): Record<string, string> {
  const base = childProcessEnv();
  for (const key of Object.keys(base)) if (key.startsWith('PG')) delete base[key];
  return base;
}

const PERMANENT_CONNECTION_ERRORS = /password authentication failed|no pg_hba\.conf entry|role ".*" does not exist|database ".*" does not exist|permission denied/i;

export function connectionFailure(database: string, err: unknown) {
  const message = `cannot connect to database ${database}: ${redactText((err as Error).message ?? String(err))}`;
  return PERMANENT_CONNECTION_ERRORS.test(message)
    ? permanentFailure(PermanentError.DatabaseUnreachable, message)
    : transientFailure(TransientError.NetworkError, message);
}
