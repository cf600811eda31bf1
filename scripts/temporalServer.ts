// The production Temporal server (temporal-server, the version docker-compose.yml runs) on PostgreSQL, for
// the tests that need what the dev server does not show: several workers on one cluster, a server restart
// with the history kept in a real database. scripts/temporal-server.sh provides the binaries (npm run setup);
// scripts/temporal-schema.sh creates or upgrades the two databases, as the compose schema job does.
//
//   node --import tsx scripts/temporalServer.ts <postgres-url>    # schema + a server on a free port, until Ctrl-C
import { spawn, execFile, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { Connection } from '@temporalio/client';
import { freePort, waitForPort } from '../lib/net.js';
import { registerSearchAttributeCommands, RUN_SEARCH_ATTRIBUTES } from '../lib/runSearchAttributes.js';
import { locateTemporalCli, stopProcess, waitUntilServing } from './localTemporal.js';

const execFileAsync = promisify(execFile);

const provisionScript = fileURLToPath(new URL('./temporal-server.sh', import.meta.url));
const schemaScript = fileURLToPath(new URL('./temporal-schema.sh', import.meta.url));
/** The dynamic config docker-compose.yml mounts; a test's own values are added to it. */
const baseDynamicConfig = fileURLToPath(new URL('./temporal-dynamicconfig.yaml', import.meta.url));

export interface TemporalServerBinaries {
  server: string;
  sqlTool: string;
}

export interface TemporalServerOptions {
  /** A PostgreSQL role that may create databases, e.g. the test run's superuser URL. */
  postgresUrl: string;
  /** The history database; the visibility database is `${database}_visibility`. Default `temporal`. */
  database?: string;
  namespace?: string;
  /** Closed runs are kept this long (the compose stack uses 72 h: a GitHub re-delivery must find its run). */
  retentionHours?: number;
  /** Server dynamic config, e.g. { 'system.namespaceCacheRefreshInterval': '1s' }. */
  dynamicConfig?: Record<string, unknown>;
  startupTimeoutMs?: number;
}

export interface TemporalServer {
  /** host:port of the frontend; the same across restarts. */
  readonly address: string;
  readonly namespace: string;
  readonly pid: number | undefined;
  /** Starts it again after stop(), on the same ports and databases; resolves once the namespace answers. */
  start(): Promise<void>;
  /** SIGTERM, then SIGKILL after graceMs. */
  stop(graceMs?: number): Promise<void>;
  /** Stops the server and drops both databases (test clean-up). */
  destroy(): Promise<void>;
}

/** Finds both binaries without building them; throws the script's own explanation when they are missing. */
export function locateTemporalServer(): TemporalServerBinaries {
  let dir: string;
  try {
    dir = execFileSync('bash', [provisionScript, '--no-build'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(`Cannot start the Temporal server: ${stderr || 'temporal-server is missing; run npm run setup'}`);
  }
  return { server: path.join(dir, 'temporal-server'), sqlTool: path.join(dir, 'temporal-sql-tool') };
}

/** Creates the history and visibility databases if needed and brings both to the tool's schema version. */
export function migrateTemporalSchema(postgresUrl: string, database: string, sqlTool = locateTemporalServer().sqlTool): void {
  const url = new URL(postgresUrl);
  try {
    execFileSync('sh', [schemaScript], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH,
        TEMPORAL_SQL_TOOL: sqlTool,
        SQL_HOST: url.hostname,
        SQL_PORT: url.port || '5432',
        SQL_USER: decodeURIComponent(url.username),
        SQL_PASSWORD: decodeURIComponent(url.password),
        TEMPORAL_DB: database,
        TEMPORAL_VISIBILITY_DB: `${database}_visibility`,
      },
    });
  } catch (err) {
    const output = `${String((err as { stdout?: unknown }).stdout ?? '')}${String((err as { stderr?: unknown }).stderr ?? '')}`.trim();
    throw new Error(`The Temporal schema could not be set up in ${url.host}/${database}: ${output.slice(-3000)}`);
  }
}

/** Sets up the schema, writes a config on free loopback ports, starts the server and registers the namespace. */
export async function startTemporalServer(options: TemporalServerOptions): Promise<TemporalServer> {
  const binaries = locateTemporalServer();
  const database = options.database ?? 'temporal';
  const namespace = options.namespace ?? 'default';
  migrateTemporalSchema(options.postgresUrl, database, binaries.sqlTool);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'flightdeck-temporal-server-'));
  const configFile = await writeServerConfig(scratch, options.postgresUrl, database, options.dynamicConfig ?? {});
  const address = `127.0.0.1:${configFile.frontendPort}`;
  let child: ChildProcess | undefined;
  let output = '';

  const start = async () => {
    output = '';
    child = spawn(binaries.server, ['--config-file', configFile.path, '--allow-no-auth', 'start'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keepTail = (chunk: Buffer) => { output = (output + chunk.toString()).slice(-4000); };
    child.stdout!.on('data', keepTail);
    child.stderr!.on('data', keepTail);
    try {
      await waitForFrontend(child, address, options.startupTimeoutMs ?? 120_000);
      await registerNamespace(address, namespace, options.retentionHours ?? 72);
      await waitUntilServing(child, address, namespace, options.startupTimeoutMs ?? 120_000);
      await registerSearchAttributes(address, namespace, options.startupTimeoutMs ?? 120_000);
    } catch (err) {
      child.kill('SIGKILL');
      throw new Error(`The Temporal server (${binaries.server}) did not start: ${(err as Error).message}${output ? `\n${output}` : ''}`);
    }
  };
  const stop = async (graceMs = 10_000) => {
    if (child) await stopProcess(child, graceMs);
  };
  await start();
  return {
    address,
    namespace,
    get pid() { return child?.pid; },
    start,
    stop,
    async destroy() {
      await stop();
      fs.rmSync(scratch, { recursive: true, force: true });
      await dropDatabases(options.postgresUrl, [database, `${database}_visibility`]);
    },
  };
}

interface ServerConfigFile { path: string; frontendPort: number }

/**
 * config/development-postgres12.yaml of the server module, with every port free on loopback and the
 * dynamic config in the scratch directory (the example's path is relative to the server's source tree).
 */
async function writeServerConfig(dir: string, postgresUrl: string, database: string, dynamicConfig: Record<string, unknown>): Promise<ServerConfigFile> {
  const url = new URL(postgresUrl);
  const sql = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `${url.hostname}:${url.port || 5432}`,
      connectProtocol: 'tcp',
      user: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  // The server records its ports in a smallint column (cluster_membership): freePort's are below 32768.
  const port = freePort;
  const rpc = async (withHttp = false) => ({
    rpc: {
      grpcPort: await port(),
      membershipPort: await port(),
      bindOnLocalHost: true,
      ...(withHttp ? { httpPort: await port() } : {}),
    },
  });
  const frontend = await rpc(true);
  const dynamicConfigPath = path.join(dir, 'dynamicconfig.yaml');
  // Dynamic config files hold a list of constrained values per key.
  const overrides = Object.fromEntries(Object.entries(dynamicConfig).map(([key, value]) => [key, [{ value }]]));
  fs.writeFileSync(dynamicConfigPath, toYaml({ ...(parseYaml(fs.readFileSync(baseDynamicConfig, 'utf8')) as object), ...overrides }));
  const config = {
    log: { stdout: true, level: 'error' },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: 4,
      datastores: { 'postgres-default': sql(database, 20), 'postgres-visibility': sql(`${database}_visibility`, 10) },
    },
    global: { membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' } },
    services: { frontend, matching: await rpc(), history: await rpc(), worker: await rpc() },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: { active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: `127.0.0.1:${frontend.rpc.grpcPort}` } },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    dynamicConfigClient: { filepath: dynamicConfigPath, pollInterval: '10s' },
  };
  const configPath = path.join(dir, 'temporal-server.yaml');
  // It holds the database password.
  fs.writeFileSync(configPath, toYaml(config), { mode: 0o600 });
  return { path: configPath, frontendPort: frontend.rpc.grpcPort };
}

async function waitForFrontend(child: ChildProcess, address: string, timeoutMs: number): Promise<void> {
  const [host, port] = address.split(':');
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`it exited with code ${code}`))));
  await Promise.race([waitForPort(host!, Number(port), timeoutMs), exited]);
}

/**
 * The production server starts with no namespace but its own: registered with the Temporal CLI, as the
 * compose stack's temporal-namespace job does (describe, else create; retried while the frontend warms up).
 */
async function registerNamespace(address: string, namespace: string, retentionHours: number): Promise<void> {
  const cli = locateTemporalCli();
  const operator = (...args: string[]) => execFileAsync(cli, ['operator', 'namespace', ...args, '--address', address, '--namespace', namespace]);
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await operator('describe');
      return;
    } catch {
      try {
        await operator('create', '--retention', `${retentionHours}h`);
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`namespace ${namespace} could not be registered: ${String((err as { stderr?: unknown }).stderr ?? err)}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }
}

/**
 * Flightdeck's search attributes (lib/runSearchAttributes.ts), registered with the Temporal CLI as the compose
 * stack's temporal-namespace job does (registering one that exists does nothing). The frontend takes them
 * from its namespace cache: wait until a query naming them is accepted, or the first start would be refused.
 */
async function registerSearchAttributes(address: string, namespace: string, timeoutMs: number): Promise<void> {
  const cli = locateTemporalCli();
  const deadline = Date.now() + timeoutMs;
  // A namespace just registered can be unknown to the operator service for a few seconds (its
  // namespace cache refreshes on a timer): "Namespace default is not found". Retried until the deadline.
  for (const [, ...args] of registerSearchAttributeCommands(namespace)) {
    for (;;) {
      try {
        await execFileAsync(cli, [...args, '--address', address]);
        break;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`${args.join(' ')} failed: ${String((err as { stderr?: unknown }).stderr ?? err)}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }
  const query = RUN_SEARCH_ATTRIBUTES.map((key) => `${key.name} = "-"`).join(' AND ');
  const connection = await Connection.connect({ address });
  try {
    for (;;) {
      try {
        await connection.workflowService.countWorkflowExecutions({ namespace, query });
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`the search attributes of namespace ${namespace} are not usable: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  } finally {
    await connection.close();
  }
}

async function dropDatabases(postgresUrl: string, databases: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  try {
    for (const database of databases) await client.query(`drop database if exists ${pg.escapeIdentifier(database)} with (force)`);
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  const postgresUrl = process.argv[2];
  if (!postgresUrl) throw new Error('usage: node --import tsx scripts/temporalServer.ts <postgres-url of a role that may create databases>');
  const server = await startTemporalServer({ postgresUrl });
  console.log(`Temporal server ${server.address}, namespace ${server.namespace}, databases temporal and temporal_visibility; Ctrl-C stops it`);
  await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  await server.stop();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main().catch((err: Error) => {
    console.error(err.message);
    process.exit(1);
  });
}
