// Issue 13's fault table, database rows: a backup loses its worker mid-dump, a migration mid-statement
// (a graceful shutdown, or a SIGKILL), a new worker starts, and the outcome is the undisturbed run's:
// one verified backup, stored once; the migration applied once, the database clean. The worker is
// lost while pg_dump or the migration's statement really runs; the attempts in the history prove
// the activity was retried.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { locatePostgresBinDir } from '../../scripts/localPostgres.js';
import { createDatabase, databaseUrl } from '../helpers/postgres.js';
import { startFakeSlack, type FakeSlack } from '../helpers/fakeSlack.js';
import { useWorkerProcesses, type WorkerLoss } from '../helpers/workerProcess.js';
import { withClient } from '../backups/helpers/sampleDatabase.js';
import { waitUntil } from '../deploy/support.js';

const workers = useWorkerProcesses();
const SECRET = 'FAULTS_DATABASE_URL';
const MIGRATED_SECRET = 'FAULTS_MIGRATED_DATABASE_URL';
/** The database the current migration row migrates (one per row: each is migrated once). */
let migratedUrl = '';
let client: Client;
let connection: Connection;
let slack: FakeSlack;
let sourceUrl = '';
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'flightdeck-db-faults-'));
const storageDir = path.join(scratch, 'backups');

beforeAll(async () => {
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new Client({ connection, namespace: inject('temporalNamespace') });
  slack = await startFakeSlack();
  sourceUrl = await createDatabase(inject('postgresUrl'), 'faults');
  await withClient(sourceUrl, (c) => c.query('create table items as select g as id, md5(g::text) as sku from generate_series(1, 20000) g'));
  fs.mkdirSync(path.join(scratch, 'checkout', 'db', 'migrations'), { recursive: true });
  for (const [name, sql] of Object.entries(MIGRATIONS)) fs.writeFileSync(path.join(scratch, 'checkout', 'db', 'migrations', name), sql);
  fs.writeFileSync(path.join(scratch, 'flightdeck.json'), JSON.stringify({
    apps: { shop: { repository: path.join(scratch, 'checkout'), database: { secret: MIGRATED_SECRET, migrations: 'db/migrations' }, environments: { production: { flyApp: 'shop' } } } },
    databases: { items: { secret: SECRET } },
    storage: { type: 'local', dir: storageDir },
  }));
});
afterAll(async () => {
  await connection?.close();
  await slack?.close();
  fs.rmSync(scratch, { recursive: true, force: true });
});

function workerEnv(): Record<string, string> {
  return {
    FLIGHTDECK_CONFIG: path.join(scratch, 'flightdeck.json'), FLIGHTDECK_WORK_DIR: path.join(scratch, 'work'), [SECRET]: sourceUrl, [MIGRATED_SECRET]: migratedUrl,
    PG_BIN_DIR: locatePostgresBinDir(), SLACK_BOT_TOKEN: 'xoxb-faults', SLACK_API_URL: slack.apiUrl, SLACK_CHANNEL: '#db', LOG_LEVEL: 'warn',
  };
}

/** A stopped worker's activities get this long before they are cancelled (the production worker allows 30 s). */
const SHUTDOWN_GRACE_MS = 500;
const HOW: Record<WorkerLoss, string> = { shutdown: 'shut down gracefully', kill: 'SIGKILLed' };

/** Stored objects of a backup series (dumps and manifests; a write in progress is a .partial file, left out). */
function storedObjects(): string[] {
  if (!fs.existsSync(storageDir)) return [];
  return fs.readdirSync(storageDir, { recursive: true }).map(String).filter((f) => /\.(dump|manifest\.json)$/.test(f));
}

describe('backup: a dump in progress', () => {
  for (const loss of ['shutdown', 'kill'] as const) {
    it(`a worker ${HOW[loss]} mid-dump: a new worker finishes with one verified backup, stored once`, async () => {
      const taskQueue = `db-faults-${loss}-${process.pid}`;
      const before = storedObjects();
      const firstWorker = await workers.start(taskQueue, workerEnv(), { shutdownGraceMs: SHUTDOWN_GRACE_MS });
      const handle = await withClient(sourceUrl, async (locker) => {
        // pg_dump waits for this lock: the worker is lost while the dump really runs.
        await locker.query('begin');
        await locker.query('lock table items in access exclusive mode');
        const started = await client.workflow.start('backupDatabase', {
          taskQueue, workflowId: `fault-backup-${loss}-${process.pid}`, args: [{ database: 'items', trigger: { source: 'api', actor: 'faults' } }],
        });
        await waitUntil('pg_dump to wait for the lock', () => isDumpWaitingForLock(), 90_000);
        await firstWorker.stop(loss);
        await locker.query('rollback');
        return started;
      });
      await workers.start(taskQueue, workerEnv(), { shutdownGraceMs: SHUTDOWN_GRACE_MS });

      const result = await handle.result() as { backupId: string; isVerified: boolean };
      expect(result.isVerified).toBe(true);
      const added = storedObjects().filter((f) => !before.includes(f));
      expect(added.sort()).toEqual([expect.stringContaining(`${result.backupId}.manifest.json`), expect.stringContaining(`${result.backupId}_release-`)].sort());
      const attempts = await activityAttempts(handle.workflowId, 'dumpDatabase');
      expect(Math.max(0, ...attempts), JSON.stringify(attempts)).toBeGreaterThanOrEqual(2);
    }, 300_000);
  }
});

/** The second migration runs for seconds inside its transaction: the worker is lost during its statement. */
const MIGRATIONS: Record<string, string> = {
  '0001_create_orders.up.sql': 'create table orders (id int primary key);\n',
  '0001_create_orders.down.sql': 'drop table orders;\n',
  '0002_backfill_audit.up.sql': 'create table audit (id int);\ninsert into audit select g from generate_series(1, 100) g;\nselect pg_sleep(6);\n',
  '0002_backfill_audit.down.sql': 'drop table audit;\n',
};

describe('migration: a statement in progress', () => {
  for (const loss of ['shutdown', 'kill'] as const) {
    it(`a worker ${HOW[loss]} mid-migration: a new worker applies it once, and the database is clean`, async () => {
      migratedUrl = await createDatabase(inject('postgresUrl'), 'migfaults');
      const taskQueue = `mig-faults-${loss}-${process.pid}`;
      const firstWorker = await workers.start(taskQueue, workerEnv(), { shutdownGraceMs: SHUTDOWN_GRACE_MS });
      const handle = await client.workflow.start('migrateDatabase', {
        taskQueue, workflowId: `fault-migrate-${loss}-${process.pid}`,
        args: [{ app: 'shop', environment: 'production', action: 'apply', workspace: path.join(scratch, 'checkout'), trigger: { source: 'api', actor: 'faults' } }],
      });
      await waitUntil('the slow migration to be running', () => withClient(migratedUrl, async (c) => (await c.query(
        `select 1 from pg_stat_activity where application_name = 'flightdeck-migrate' and query like '%pg_sleep(6)%'`)).rowCount! > 0), 90_000);
      await firstWorker.stop(loss);
      await workers.start(taskQueue, workerEnv(), { shutdownGraceMs: SHUTDOWN_GRACE_MS });

      const result = await handle.result() as { status: { currentVersion: number; isDirty: boolean } };
      expect(result.status).toMatchObject({ currentVersion: 2, isDirty: false });
      await withClient(migratedUrl, async (c) => {
        expect((await c.query('select version, dirty from schema_migrations')).rows).toEqual([{ version: '2', dirty: false }]);
        expect((await c.query('select count(*)::int as n from audit')).rows).toEqual([{ n: 100 }]);
        const applied = await c.query(`select version from flightdeck_migration_history where status = 'succeeded' and direction = 'up' order by version`);
        expect(applied.rows.map((r: { version: string }) => Number(r.version))).toEqual([1, 2]);
      });
      const attempts = await activityAttempts(handle.workflowId, 'applyMigrations');
      expect(Math.max(0, ...attempts), JSON.stringify(attempts)).toBeGreaterThanOrEqual(2);
    }, 300_000);
  }
});

/** Asked on a fresh connection each time (a transaction's pg_stat_activity is a snapshot). */
async function isDumpWaitingForLock(): Promise<boolean> {
  const database = new URL(sourceUrl).pathname.slice(1);
  const { rowCount } = await withClient(databaseUrl(inject('postgresUrl'), 'postgres'), (observer) =>
    observer.query(`select 1 from pg_stat_activity where datname = $1 and application_name = 'flightdeck-backup' and wait_event_type = 'Lock'`, [database]));
  return (rowCount ?? 0) > 0;
}

/** The attempt numbers with which each run of this activity type started. */
async function activityAttempts(workflowId: string, activityType: string): Promise<number[]> {
  const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const scheduled = new Set(events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activityType).map((e) => String(e.eventId)));
  return events
    .filter((e) => e.activityTaskStartedEventAttributes && scheduled.has(String(e.activityTaskStartedEventAttributes.scheduledEventId)))
    .map((e) => e.activityTaskStartedEventAttributes!.attempt ?? 0);
}
