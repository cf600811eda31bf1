// Shared set-up of the backup suites: the real Temporal dev server and PostgreSQL of the run, a fake
// Slack, a storage directory, captured logs, the Fly simulator as flyctl, and the worker's activities
// built as the worker builds them. It also scans everything persisted or printed for leaked secrets.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, inject } from 'vitest';
import { createActivities, type Activities } from '../../../activities/index.js';
import { createSlackClient } from '../../../activities/slack.js';
import { loadEnvConfig, parseAppsConfig, type AppsConfig, type EnvConfig } from '../../../lib/config.js';
import { createLogger } from '../../../lib/log.js';
import { locatePostgresBinDir } from '../../../scripts/localPostgres.js';
import { createSim, type Sim } from '../../../sim/testing.js';
import { startFakeSlack, type FakeSlack } from '../../helpers/fakeSlack.js';
import { databaseUrl, withAdminClient } from '../../helpers/postgres.js';
import { useWorkflowTestKit, type WorkflowTestKit } from '../../helpers/temporal.js';
import { FLIGHTDECK_WORKFLOWS } from '../../helpers/workflowBundles.js';

export interface BackupTestEnvironment {
  readonly kit: WorkflowTestKit;
  readonly slack: FakeSlack;
  /** The Fly simulator that FLYCTL_PATH names (status, proxy). */
  readonly sim: Sim;
  readonly logs: string[];
  /** The local storage directory of this file's config. */
  readonly storageDir: string;
  /** The worker's spool for parallel dumps and restores (FLIGHTDECK_BACKUP_SPOOL_DIR). */
  readonly spoolDir: string;
  /** The test server's superuser URL (with its real password). */
  readonly serverUrl: string;
  /** Replaces the config the activities read, parsed as flightdeck.yaml would be. */
  setConfig(raw: Record<string, unknown>): AppsConfig;
  /** Puts a connection string into the worker's environment; leak scans look for it. */
  setSecret(name: string, connectionString: string): void;
  /** The worker's activities (all of them, as createActivities builds them), with overrides. */
  activities(overrides?: Partial<Activities>): Activities;
  /** Fails if a secret appears in these workflows' histories, the logs or anything sent to Slack. */
  expectNoSecretLeaked(workflowIds: string[]): Promise<void>;
}

/** Call at the top level of a test file; hasWorkflows: false skips bundling for activity-only suites. */
export function useBackupTestEnvironment(options: { hasWorkflows?: boolean } = {}): BackupTestEnvironment {
  const kit = options.hasWorkflows === false ? undefined : useWorkflowTestKit(FLIGHTDECK_WORKFLOWS);
  const logs: string[] = [];
  const secrets = new Set<string>();
  const secretNames: string[] = [];
  let slack: FakeSlack | undefined;
  let sim: Sim | undefined;
  let env: EnvConfig | undefined;
  let config: AppsConfig = parseAppsConfig({});
  const storageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flightdeck-backups-'));
  const logger = createLogger({ level: 'debug', name: 'backup-test', destination: { write: (line: string) => { logs.push(line); } } });

  beforeAll(async () => {
    [slack, sim] = await Promise.all([startFakeSlack(), createSim()]);
    // flyctl (the simulator) reads FLY_SIM_DIR from the worker's environment, as real flyctl reads its config.
    process.env.FLY_SIM_DIR = sim.dir;
    env = loadEnvConfig({
      FLYCTL_PATH: sim.flyctlPath,
      FLY_API_TOKEN: 'fly-test-token-0123456789',
      // pg_dump and pg_restore of the test server's version, as PG_BIN_DIR pins them in production.
      PG_BIN_DIR: locatePostgresBinDir(),
      SLACK_BOT_TOKEN: 'xoxb-test-token-0123456789',
      SLACK_API_URL: slack.apiUrl,
      SLACK_CHANNEL: '#backups',
      FLIGHTDECK_WORK_DIR: path.join(storageDir, 'work'),
      FLIGHTDECK_BACKUP_SPOOL_DIR: path.join(storageDir, 'spool'),
    });
  });
  afterAll(async () => {
    await Promise.allSettled([slack?.close(), sim?.teardown()]);
    delete process.env.FLY_SIM_DIR;
    for (const name of secretNames) delete process.env[name];
    fs.rmSync(storageDir, { recursive: true, force: true });
  });

  return {
    get kit() {
      if (!kit) throw new Error('this suite was set up without workflows');
      return kit;
    },
    logs,
    storageDir,
    spoolDir: path.join(storageDir, 'spool'),
    get slack() { return slack!; },
    get sim() { return sim!; },
    get serverUrl() { return inject('postgresUrl'); },
    setConfig(raw) {
      config = parseAppsConfig({ storage: { type: 'local', dir: storageDir }, ...raw });
      return config;
    },
    setSecret(name, connectionString) {
      process.env[name] = connectionString;
      secretNames.push(name);
      secrets.add(connectionString);
      const password = decodeURIComponent(new URL(connectionString).password);
      if (password) {
        secrets.add(password);
        secrets.add(encodeURIComponent(password));
      }
    },
    activities(overrides = {}) {
      const deps = { env: env!, logger, slack: createSlackClient(env!.SLACK_BOT_TOKEN, env!.SLACK_API_URL), loadAppsConfig: () => config };
      return { ...createActivities(deps), ...overrides };
    },
    async expectNoSecretLeaked(workflowIds) {
      const persisted: string[] = [];
      for (const workflowId of workflowIds) {
        const history = await kit!.client.workflow.getHandle(workflowId).fetchHistory();
        persisted.push(JSON.stringify(history, (_key, value) => (value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : value)));
      }
      const places = { histories: persisted.join('\n'), logs: logs.join('\n'), slack: JSON.stringify(slack!.calls) };
      for (const [place, text] of Object.entries(places)) {
        expect(text.length, `${place} were captured`).toBeGreaterThan(0);
        for (const secret of secrets) expect(text.includes(secret), `a secret appears in the ${place}`).toBe(false);
      }
    },
  };
}

/** Polls until fn returns a value other than undefined (no fixed sleeps). */
export async function waitFor<T>(fn: () => Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * A backup's pg_dump of this database waits for a table lock. Asked on a fresh connection each time:
 * within a transaction (a locker's) pg_stat_activity is a snapshot taken at its first read, which
 * would never show the dump starting to wait.
 */
export async function isDumpWaitingForLock(serverUrl: string, database: string): Promise<boolean> {
  const { rowCount } = await withAdminClient(databaseUrl(serverUrl, 'postgres'), (observer) =>
    observer.query(`select 1 from pg_stat_activity where datname = $1 and application_name = 'flightdeck-backup' and wait_event_type = 'Lock'`, [database]));
  return (rowCount ?? 0) > 0;
}
