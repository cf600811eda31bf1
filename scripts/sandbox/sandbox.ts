// Sandbox mode: everything Flightdeck needs, on this machine, under one state directory.
//   Temporal dev server (state: temporal.sqlite, web UI on)   PostgreSQL (postgres/) + the demo database
//   the Fly simulator (fly/) with the demo app on 2 machines  a Slack stand-in (slack-messages.json)
//   the worker and the API as child processes, with the generated flightdeck.yaml
// Everything it creates is kept, so the next start resumes where this one stopped.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSim, killAllSimProcesses, type Sim } from '../../sim/testing.js';
import { locatePostgresBinDir, startLocalPostgres, type LocalPostgres } from '../localPostgres.js';
import { startTemporalDevServer, type TemporalDevServer } from '../localTemporal.js';
import { locateSquawk } from '../squawk.js';
import { startManagedChild, type ManagedChild } from './childProcesses.js';
import { ensureDemoDatabase } from './demoDatabase.js';
import { ensureDemoRepository, initialImage } from './demoRepository.js';
import type { SandboxPorts } from './ports.js';
import {
  DEMO_DATABASE_SECRET, DEMO_FLY_APP, DEMO_SLACK_CHANNEL, writeSandboxConfig,
} from './sandboxConfig.js';
import { startSlackStandIn, type SlackStandIn, type SlackStandInEvent, type SlackStandInMessage } from './slackStandIn.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SANDBOX_TASK_QUEUE = 'flightdeck';
// The local Slack stand-in accepts any token; this placeholder only makes the worker post to it.
const SLACK_BOT_TOKEN = 'sandbox-placeholder';
const WORKER_START_TIMEOUT_MS = 180_000;
const API_START_TIMEOUT_MS = 60_000;

export interface SandboxOptions {
  stateDir: string;
  ports: SandboxPorts;
  onSlackEvent?: (event: SlackStandInEvent) => void;
  /** Progress and the children's warnings, one line each. */
  onNotice?: (line: string) => void;
}

/** Made once per state directory and kept there: the same curl commands work after a restart. */
export interface SandboxSecrets {
  apiToken: string;
  slackSigningSecret: string;
  ciWebhookSecret: string;
}

export interface SandboxPaths {
  config: string;
  repository: string;
  backups: string;
  work: string;
  sim: string;
  postgres: string;
  temporalDb: string;
  logs: string;
  slackMessages: string;
  secrets: string;
}

export interface Sandbox {
  readonly paths: SandboxPaths;
  readonly secrets: SandboxSecrets;
  readonly temporal: { address: string; namespace: string; uiUrl?: string };
  /** The API's base URL. */
  readonly apiUrl: string;
  /** The demo app's URL (its simulated Fly proxy). */
  readonly appUrl: string;
  readonly slack: SlackStandIn;
  readonly sim: Sim;
  /** Pids of every process the sandbox started: servers, worker, API, simulated machines and routers. */
  processIds(): number[];
  /** Resolves, with what happened, if the worker or the API exits while the sandbox runs. */
  readonly unexpectedExit: Promise<string>;
  /** Stops the API, the worker, the simulated machines, Temporal and PostgreSQL, in that order. */
  stop(): Promise<void>;
}

export function sandboxPaths(stateDir: string): SandboxPaths {
  const at = (name: string) => path.join(stateDir, name);
  return {
    config: at('flightdeck.yaml'), repository: at('demo-repo'), backups: at('backups'), work: at('work'), sim: at('fly'),
    postgres: at('postgres'), temporalDb: at('temporal.sqlite'), logs: at('logs'), slackMessages: at('slack-messages.json'), secrets: at('sandbox-secrets.json'),
  };
}

function loadOrCreateSecrets(file: string): SandboxSecrets {
  if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8')) as SandboxSecrets;
  const token = (prefix: string) => `${prefix}${randomBytes(18).toString('base64url')}`;
  const secrets: SandboxSecrets = { apiToken: token('fdk_sandbox_'), slackSigningSecret: token(''), ciWebhookSecret: token('') };
  fs.writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  return secrets;
}

function loadSlackMessages(file: string): SlackStandInMessage[] {
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as SlackStandInMessage[]) : [];
}

/** Variables the children read from lib/config.ts: none leaks in from the shell that ran `npm start`. */
const CONFIG_VARIABLE = /^(TEMPORAL_|FLIGHTDECK_|FLY_|SLACK_|CI_|GITHUB_WEBHOOK_|DEMO_DATABASE_URL$|LOG_LEVEL$|PG_BIN_DIR$)/;

interface SandboxServers {
  temporal: { address: string; namespace: string; uiUrl?: string };
  postgresUrl: string;
  slack: SlackStandIn;
}

/** The worker's and the API's environment: everything they need to find, and nothing from the shell's config. */
function childEnvironment(servers: SandboxServers, sim: Sim, secrets: SandboxSecrets, paths: SandboxPaths, apiPort: number, demoDatabaseUrl: string): Record<string, string> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([key, value]) => value !== undefined && !CONFIG_VARIABLE.test(key))) as Record<string, string>;
  // pg_dump and pg_restore of the same version as the demo server.
  const pgBinDir = locatePostgresBinDir();
  return {
    ...inherited,
    TEMPORAL_ADDRESS: servers.temporal.address,
    TEMPORAL_NAMESPACE: servers.temporal.namespace,
    TEMPORAL_TASK_QUEUE: SANDBOX_TASK_QUEUE,
    ...(servers.temporal.uiUrl ? { TEMPORAL_UI_URL: servers.temporal.uiUrl } : {}),
    FLIGHTDECK_CONFIG: paths.config,
    FLIGHTDECK_WORK_DIR: paths.work,
    FLYCTL_PATH: sim.flyctlPath,
    FLY_SIM_DIR: sim.dir,
    FLY_API_TOKEN: sim.env.FLY_API_TOKEN,
    SLACK_BOT_TOKEN,
    SLACK_API_URL: servers.slack.apiUrl,
    SLACK_CHANNEL: DEMO_SLACK_CHANNEL,
    SLACK_SIGNING_SECRET: secrets.slackSigningSecret,
    FLIGHTDECK_API_HOST: '127.0.0.1',
    FLIGHTDECK_API_PORT: String(apiPort),
    FLIGHTDECK_API_TOKEN: secrets.apiToken,
    CI_WEBHOOK_SECRET: secrets.ciWebhookSecret,
    [DEMO_DATABASE_SECRET]: demoDatabaseUrl,
    LOG_LEVEL: 'info',
    PG_BIN_DIR: pgBinDir,
    PATH: `${pgBinDir}${path.delimiter}${process.env.PATH ?? ''}`,
    ...squawkPath(),
  };
}

/** The migration linter, from npm run setup's cache; the demo app has no migrations, so the sandbox runs without it. */
function squawkPath(): { SQUAWK_PATH?: string } {
  try {
    return { SQUAWK_PATH: locateSquawk() };
  } catch {
    return {};
  }
}

/** Creates the demo app on two machines unless the simulator state already has it. */
async function ensureDemoApp(sim: Sim): Promise<string> {
  const state = sim.readState() as { apps?: Record<string, unknown> };
  if (!state.apps?.[DEMO_FLY_APP]) await sim.createApp(DEMO_FLY_APP, { machines: 2, image: initialImage(DEMO_FLY_APP) });
  return sim.appUrl(DEMO_FLY_APP);
}

function startedValue<T>(result: PromiseSettledResult<T>): T {
  if (result.status === 'rejected') throw result.reason;
  return result.value;
}

/**
 * Everything started so far, so that stopping undoes exactly that. If the supervisor exits without
 * stop() (an error, a second Ctrl-C, a Ctrl-C during start), nothing is left running either: the
 * children's groups are killed, the servers are asked to shut down by themselves (SIGINT is
 * PostgreSQL's fast shutdown), and simulated machines exit with their owner.
 */
class StartedProcesses {
  readonly children: ManagedChild[] = [];
  sim: Sim | undefined;
  isStopping = false;
  private readonly servers: Array<{ stop(): Promise<void> }> = [];
  private readonly serverPids: Array<{ pid: number; exitSignal: NodeJS.Signals }> = [];
  private readonly killNow = () => {
    for (const child of this.children) child.killNow();
    for (const { pid, exitSignal } of this.serverPids) {
      try { process.kill(pid, exitSignal); } catch { /* already gone */ }
    }
  };

  constructor() {
    process.once('exit', this.killNow);
  }

  addServer<T extends { stop(): Promise<void>; pid?: number }>(server: T, exitSignal: NodeJS.Signals = 'SIGTERM'): T {
    this.servers.push(server);
    if (server.pid) this.serverPids.push({ pid: server.pid, exitSignal });
    return server;
  }

  processIds(): number[] {
    return [...this.serverPids.map(({ pid }) => pid), ...this.children.map((c) => c.pid), ...(this.sim?.processIds() ?? [])];
  }

  /** The API and the worker first (they need Temporal to finish cleanly), then the machines, then the servers. */
  async stop(): Promise<void> {
    this.isStopping = true;
    for (const child of [...this.children].reverse()) await child.stop();
    if (this.sim) await killAllSimProcesses(this.sim.dir);
    await Promise.allSettled([...this.servers].reverse().map((s) => s.stop()));
    // Only now: an exit in the middle of stopping must still leave nothing behind.
    process.removeListener('exit', this.killNow);
  }
}

async function startServers(options: SandboxOptions, paths: SandboxPaths, started: StartedProcesses): Promise<SandboxServers> {
  const previousMessages = loadSlackMessages(paths.slackMessages);
  const keptMessages: { all: SlackStandInMessage[] } = { all: previousMessages };
  // Every start is awaited, failed or not, so that those that did start are stopped after a failure.
  const [temporal, postgres, slack] = await Promise.allSettled([
    startTemporalDevServer({ port: options.ports.temporal, withUi: true, uiPort: options.ports.temporalUi, dbFilename: paths.temporalDb, isOwnProcessGroup: true })
      .then((server: TemporalDevServer) => started.addServer(server)),
    startLocalPostgres({ dataDir: paths.postgres, port: options.ports.postgres, isOwnProcessGroup: true })
      .then((server: LocalPostgres) => started.addServer(server, 'SIGINT')),
    startSlackStandIn({
      port: options.ports.slack,
      initialMessages: previousMessages,
      onEvent: (event) => {
        // Kept on every change, so updates to a message posted before a restart still find it.
        fs.writeFileSync(paths.slackMessages, JSON.stringify(keptMessages.all));
        options.onSlackEvent?.(event);
      },
    }).then((server) => { started.addServer({ stop: () => server.close() }); return server; }),
  ]);
  const servers = { temporal: startedValue(temporal), postgresUrl: startedValue(postgres).url, slack: startedValue(slack) };
  keptMessages.all = servers.slack.messages;
  return servers;
}

export async function startSandbox(options: SandboxOptions): Promise<Sandbox> {
  const notice = options.onNotice ?? (() => undefined);
  const stateDir = path.resolve(options.stateDir);
  const paths = sandboxPaths(stateDir);
  for (const dir of [stateDir, paths.backups, paths.work, paths.logs]) fs.mkdirSync(dir, { recursive: true });
  // As root, PostgreSQL runs as the `postgres` user, which must be able to reach its data dir inside.
  if (process.getuid?.() === 0) fs.chmodSync(stateDir, 0o755);
  const secrets = loadOrCreateSecrets(paths.secrets);
  const started = new StartedProcesses();
  // Exits during start are reported by the start itself; after it, one ends the sandbox.
  let isRunning = false;
  let reportUnexpectedExit: (what: string) => void = () => undefined;
  const unexpectedExit = new Promise<string>((resolve) => { reportUnexpectedExit = resolve; });

  try {
    notice('starting Temporal, PostgreSQL, the Fly simulator and the Slack stand-in');
    const servers = await startServers(options, paths, started);
    const sim = await createSim({ dir: paths.sim });
    started.sim = sim;

    notice('preparing the demo app, its repository and the demo database');
    const [appUrl, demoDatabaseUrl] = await Promise.all([ensureDemoApp(sim), ensureDemoDatabase(servers.postgresUrl)]);
    ensureDemoRepository(paths.repository, sim, DEMO_FLY_APP);
    writeSandboxConfig({ file: paths.config, repositoryDir: paths.repository, backupsDir: paths.backups });

    const env = childEnvironment(servers, sim, secrets, paths, options.ports.api, demoDatabaseUrl);
    const startChild = (name: string, entry: string, readyLine: RegExp, timeoutMs: number) => {
      const logFile = path.join(paths.logs, `${name}.log`);
      const child = startManagedChild(name, process.execPath, ['--import', 'tsx', entry], {
        env, cwd: REPO_ROOT, logFile, onNotableLine: (line) => notice(`${name}: ${line}`),
      });
      started.children.push(child);
      void child.exited.then((code) => { if (isRunning && !started.isStopping) reportUnexpectedExit(`the ${name} exited (${code}); its log is ${logFile}`); });
      return child.waitForOutput(readyLine, timeoutMs);
    };
    notice('starting the worker (bundling the workflows takes a moment) and the API');
    await startChild('worker', 'worker/main.ts', /worker running/, WORKER_START_TIMEOUT_MS);
    await startChild('api', 'api/main.ts', /API listening/, API_START_TIMEOUT_MS);

    isRunning = true;
    return {
      paths, secrets, appUrl, sim, unexpectedExit,
      temporal: servers.temporal,
      apiUrl: `http://127.0.0.1:${options.ports.api}`,
      slack: servers.slack,
      processIds: () => started.processIds(),
      stop: () => started.stop(),
    };
  } catch (err) {
    await started.stop();
    throw err;
  }
}
