// Issue 13's fault table, database rows: a backup loses its worker mid-dump, a restore mid-pg_restore,
// a migration mid-statement (a graceful shutdown, or a SIGKILL), a new worker starts, and the outcome
// is the undisturbed run's: one verified backup, stored once; the live database replaced once by the
// whole restored copy, no staging copy left; the migration applied once, the database clean. The
// worker is lost while pg_dump, pg_restore or the migration's statement really runs (held there by a
// lock the test takes); the attempts in the history prove the activity was retried. Each row has its
// own databases, task queue and workers, so the rows run side by side.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import pg from 'pg';
import { afterAll, beforeAll, describe, inject, it } from 'vitest';
import { locatePostgresBinDir } from '../../scripts/localPostgres.js';
import { approvalUpdate, type RestoreResult } from '../../lib/messages.js';
import { createDatabase, databaseUrl } from '../helpers/postgres.js';
import { startFakeSlack, type FakeSlack } from '../helpers/fakeSlack.js';
import { slots } from '../helpers/slots.js';
import { useWorkerProcesses, type WorkerLoss } from '../helpers/workerProcess.js';
import { withClient } from '../backups/helpers/sampleDatabase.js';
import { waitUntil } from '../deploy/support.js';

const workers = useWorkerProcesses();
const LOSSES = ['shutdown', 'kill'] as const;
const HOW: Record<WorkerLoss, string> = { shutdown: 'shut down gracefully', kill: 'SIGKILLed' };
/** A stopped worker's activities get this long before they are cancelled (the production worker allows 30 s). */
const SHUTDOWN_GRACE_MS = 500;
/**
 * Rows wait mostly (a heartbeat timeout, a retry's backoff), and each has at most one worker process
 * at a time: all six run at once, so none waits for a slot of another's (which counted against its timeout).
 */
const rowSlots = slots(6);

/** Per row (kind and loss): its own databases, so no row waits on another's lock or swap. */
interface RowDatabases { url: string; name: string }
const backupSources = {} as Record<WorkerLoss, RowDatabases>;
const restoreLive = {} as Record<WorkerLoss, RowDatabases>;
const migrated = {} as Record<WorkerLoss, RowDatabases>;
/** Rows the restore's live database has: the backup has them all; the live database, by the time of the restore, RESTORE_KEPT. */
const RESTORE_ROWS = 200_000;
const RESTORE_KEPT = 1_000;
const secret = (kind: string, loss: WorkerLoss) => `FAULTS_${kind}_${loss}_URL`.toUpperCase();

let client: Client;
let connection: Connection;
let slack: FakeSlack;
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'flightdeck-db-faults-'));
const storageDir = path.join(scratch, 'backups');
const checkout = path.join(scratch, 'checkout');

beforeAll(async () => {
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new Client({ connection, namespace: inject('temporalNamespace') });
  slack = await startFakeSlack();
  const serverUrl = inject('postgresUrl');
  const create = async (prefix: string, sql?: string): Promise<RowDatabases> => {
    const url = await createDatabase(serverUrl, prefix);
    if (sql) await withClient(url, (c) => c.query(sql));
    return { url, name: new URL(url).pathname.slice(1) };
  };
  await Promise.all(LOSSES.map(async (loss) => {
    backupSources[loss] = await create(`faults_${loss}`, 'create table items as select g as id, md5(g::text) as sku from generate_series(1, 20000) g');
    // Big enough that pg_restore is still loading `items` when the test locks it; its primary key comes after the data.
    restoreLive[loss] = await create(`ledger_${loss}`, `create table items (id int primary key, sku text); insert into items select g, md5(g::text) from generate_series(1, ${RESTORE_ROWS}) g`);
    migrated[loss] = await create(`migfaults_${loss}`);
  }));
  fs.mkdirSync(path.join(checkout, 'db', 'migrations'), { recursive: true });
  for (const [name, sql] of Object.entries(MIGRATIONS)) fs.writeFileSync(path.join(checkout, 'db', 'migrations', name), sql);
  const app = (loss: WorkerLoss, extra: Record<string, unknown>) => ({
    repository: checkout, environments: { production: { flyApp: `shop-${loss}`, permissions: { restore: ['faults'] } } }, ...extra,
  });
  fs.writeFileSync(path.join(scratch, 'flightdeck.json'), JSON.stringify({
    apps: Object.fromEntries(LOSSES.flatMap((loss) => [
      [`shop-${loss}`, app(loss, { database: { secret: secret('migrated', loss), migrations: 'db/migrations' } })],
      [`vault-${loss}`, app(loss, {})],
    ])),
    databases: Object.fromEntries(LOSSES.flatMap((loss) => [
      [`items-${loss}`, { secret: secret('items', loss) }],
      [`ledger-${loss}`, { secret: secret('ledger', loss), app: `vault-${loss}` }],
    ])),
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
    FLIGHTDECK_CONFIG: path.join(scratch, 'flightdeck.json'), FLIGHTDECK_WORK_DIR: path.join(scratch, 'work'),
    ...Object.fromEntries(LOSSES.flatMap((loss) => [
      [secret('items', loss), backupSources[loss].url], [secret('ledger', loss), restoreLive[loss].url], [secret('migrated', loss), migrated[loss].url],
    ])),
    PG_BIN_DIR: locatePostgresBinDir(), SLACK_BOT_TOKEN: 'xoxb-faults', SLACK_API_URL: slack.apiUrl, SLACK_CHANNEL: '#db', LOG_LEVEL: 'warn',
  };
}

const startWorker = (taskQueue: string) => workers.start(taskQueue, workerEnv(), { shutdownGraceMs: SHUTDOWN_GRACE_MS });

/** Stored objects of a backup series (dumps and manifests; a write in progress is a .partial file, left out). */
function storedObjects(database: string): string[] {
  if (!fs.existsSync(storageDir)) return [];
  return fs.readdirSync(storageDir, { recursive: true }).map(String).filter((f) => f.includes(database) && /\.(dump|manifest\.json)$/.test(f));
}

describe.concurrent('backup: a dump in progress', () => {
  for (const loss of LOSSES) {
    it(`a worker ${HOW[loss]} mid-dump: a new worker finishes with one verified backup, stored once`, ({ expect }) => rowSlots(async () => {
      const taskQueue = `db-faults-${loss}-${process.pid}`;
      const database = `items-${loss}`;
      const source = backupSources[loss];
      const before = storedObjects(database);
      const firstWorker = await startWorker(taskQueue);
      const handle = await withClient(source.url, async (locker) => {
        // pg_dump waits for this lock: the worker is lost while the dump really runs.
        await locker.query('begin');
        await locker.query('lock table items in access exclusive mode');
        const started = await client.workflow.start('backupDatabase', {
          taskQueue, workflowId: `fault-backup-${loss}-${process.pid}`, args: [{ database, trigger: { source: 'api', actor: 'faults' } }],
        });
        await waitUntil('pg_dump to wait for the lock', () => isWaitingForLock(source.name, 'true'), 90_000);
        await firstWorker.stop(loss);
        await locker.query('rollback');
        return started;
      });
      await startWorker(taskQueue);

      const result = await handle.result() as { backupId: string; isVerified: boolean };
      expect(result.isVerified).toBe(true);
      const added = storedObjects(database).filter((f) => !before.includes(f));
      expect(added.sort()).toEqual([expect.stringContaining(`${result.backupId}.manifest.json`), expect.stringContaining(`${result.backupId}_release-`)].sort());
      const attempts = await activityAttempts(handle.workflowId, 'dumpDatabase');
      expect(Math.max(0, ...attempts), JSON.stringify(attempts)).toBeGreaterThanOrEqual(2);
    }), 600_000);
  }
});

describe.concurrent('restore: pg_restore in progress', () => {
  for (const loss of LOSSES) {
    it(`a worker ${HOW[loss]} mid-restore: a new worker restores once, the live database is the whole restored copy, the old one kept, no staging copy left`, ({ expect }) => rowSlots(async () => {
      const taskQueue = `restore-faults-${loss}-${process.pid}`;
      const database = `ledger-${loss}`;
      const live = restoreLive[loss];
      const firstWorker = await startWorker(taskQueue);
      const trigger = { source: 'api', actor: 'faults' };
      const backup = await client.workflow.execute('backupDatabase', { taskQueue, workflowId: `fault-restore-backup-${loss}-${process.pid}`, args: [{ database, trigger }] }) as { backupId: string };
      // Since the backup, the live database lost rows: the restore brings them back.
      await withClient(live.url, (c) => c.query('delete from items where id > $1', [RESTORE_KEPT]));
      const handle: WorkflowHandle = await client.workflow.start('restoreDatabase', {
        taskQueue, workflowId: `fault-restore-${loss}-${process.pid}`,
        args: [{ database, backupId: backup.backupId, targetDatabase: live.name, isOverwriteConfirmed: true, trigger }],
      });
      await waitUntil('the approval request', async () => (await handle.query('status') as { state: string }).state === 'waiting-for-approval', 90_000);
      await handle.executeUpdate(approvalUpdate, { args: [{ isApproved: true, actor: 'faults' }] });

      const locker = await holdRestoreOfItems(live.name);
      await firstWorker.stop(loss);
      await locker.release();
      await startWorker(taskQueue);

      const result = await handle.result() as RestoreResult;
      expect(result).toMatchObject({ targetDatabase: live.name, isVerified: true, preRestoreDatabase: expect.stringMatching(new RegExp(`^${live.name}_pre_restore_\\d{14}$`)) });
      // The live database is the whole restored copy (its primary key is pg_restore's last step); the old one is kept as it was.
      const shape = (url: string) => withClient(url, async (c) => (await c.query(
        `select (select count(*)::int from items) as rows, (select count(*)::int from pg_indexes where tablename = 'items') as indexes`)).rows[0]);
      expect(await shape(live.url)).toEqual({ rows: RESTORE_ROWS, indexes: 1 });
      expect(await shape(databaseUrl(live.url, result.preRestoreDatabase!))).toEqual({ rows: RESTORE_KEPT, indexes: 1 });
      expect(await databasesLike(`${live.name}\\_%`)).toEqual([result.preRestoreDatabase]);
      const restores = await activityAttempts(handle.workflowId, 'restoreBackupIntoStaging');
      expect(Math.max(0, ...restores), JSON.stringify(restores)).toBeGreaterThanOrEqual(2);
      expect(await activityAttempts(handle.workflowId, 'swapInRestoredDatabase')).toEqual([1]);
    }), 600_000);
  }
});

/**
 * Holds the restore into the staging copy part-way: as soon as `items` exists there, the test locks it,
 * so pg_restore waits to load its rows (or, locked behind that COPY, to add its primary key; or, done
 * already, the activity's check of the copy waits to count them). Resolves once the restore waits for the
 * lock; release() lets it go (or finds the connection already ended by the staging copy's drop).
 */
async function holdRestoreOfItems(liveName: string): Promise<{ release(): Promise<void> }> {
  const staging = await waitUntil('the staging database', () => withClient(databaseUrl(inject('postgresUrl'), 'postgres'), async (c) =>
    (await c.query<{ datname: string }>(`select datname from pg_database where datname like $1`, [`${liveName}\\_restoring\\_%`])).rows[0]?.datname), 90_000);
  const locker = new pg.Client({ connectionString: databaseUrl(inject('postgresUrl'), staging) });
  // The retried restore drops the staging copy WITH (FORCE), which ends this session.
  locker.on('error', () => undefined);
  await locker.connect();
  for (let isLocked = false; !isLocked;) {
    const { rows: [table] } = await locker.query<{ items: string | null }>(`select to_regclass('public.items')::text as items`);
    if (table!.items) {
      await locker.query('begin');
      await locker.query('lock table public.items in access exclusive mode');
      isLocked = true;
    } else {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  // Locked before its COPY, pg_restore waits to load the rows; during it, to add the primary key. A small
  // table can be loaded in the moment between its creation and the lock: then the same activity's check of
  // the restored copy waits to count its rows, and the worker is lost mid-restore all the same.
  const heldQueries = [`query like 'COPY public.items %'`, `query like 'ALTER TABLE ONLY public.items%'`, `query like 'select count(*) as n from only "public"."items"%'`];
  await waitUntil('pg_restore (or the check of its copy) to wait for the lock on items', () => isWaitingForLock(staging, `(${heldQueries.join(' or ')})`), 90_000)
    .catch(async (err: unknown) => {
      const sessions = await withClient(databaseUrl(inject('postgresUrl'), 'postgres'), async (c) => (await c.query(
        `select application_name, state, wait_event_type, left(query, 80) as query from pg_stat_activity where datname = $1`, [staging])).rows);
      throw new Error(`${(err as Error).message}; sessions in ${staging}: ${JSON.stringify(sessions)}`);
    });
  return {
    async release() {
      await locker.query('rollback').catch(() => undefined);
      await locker.end().catch(() => undefined);
    },
  };
}

async function databasesLike(pattern: string): Promise<string[]> {
  return withClient(databaseUrl(inject('postgresUrl'), 'postgres'), async (c) =>
    (await c.query<{ datname: string }>('select datname from pg_database where datname like $1 order by 1', [pattern])).rows.map((r) => r.datname));
}

/** The second migration runs for seconds inside its transaction: the worker is lost during its statement. */
const MIGRATIONS: Record<string, string> = {
  '0001_create_orders.up.sql': 'create table orders (id int primary key);\n',
  '0001_create_orders.down.sql': 'drop table orders;\n',
  '0002_backfill_audit.up.sql': 'create table audit (id int);\ninsert into audit select g from generate_series(1, 100) g;\nselect pg_sleep(6);\n',
  '0002_backfill_audit.down.sql': 'drop table audit;\n',
};

describe.concurrent('migration: a statement in progress', () => {
  for (const loss of LOSSES) {
    it(`a worker ${HOW[loss]} mid-migration: a new worker applies it once, and the database is clean`, ({ expect }) => rowSlots(async () => {
      const taskQueue = `mig-faults-${loss}-${process.pid}`;
      const { url } = migrated[loss];
      const firstWorker = await startWorker(taskQueue);
      const handle = await client.workflow.start('migrateDatabase', {
        taskQueue, workflowId: `fault-migrate-${loss}-${process.pid}`,
        args: [{ app: `shop-${loss}`, environment: 'production', action: 'apply', workspace: checkout, trigger: { source: 'api', actor: 'faults' } }],
      });
      await waitUntil('the slow migration to be running', () => withClient(url, async (c) => (await c.query(
        `select 1 from pg_stat_activity where datname = current_database() and application_name = 'flightdeck-migrate' and query like '%pg_sleep(6)%'`)).rowCount! > 0), 90_000);
      await firstWorker.stop(loss);
      await startWorker(taskQueue);

      const result = await handle.result() as { status: { currentVersion: number; isDirty: boolean } };
      expect(result.status).toMatchObject({ currentVersion: 2, isDirty: false });
      await withClient(url, async (c) => {
        expect((await c.query('select version, dirty from schema_migrations')).rows).toEqual([{ version: '2', dirty: false }]);
        expect((await c.query('select count(*)::int as n from audit')).rows).toEqual([{ n: 100 }]);
        const applied = await c.query(`select version from flightdeck_migration_history where status = 'succeeded' and direction = 'up' order by version`);
        expect(applied.rows.map((r: { version: string }) => Number(r.version))).toEqual([1, 2]);
      });
      const attempts = await activityAttempts(handle.workflowId, 'applyMigrations');
      expect(Math.max(0, ...attempts), JSON.stringify(attempts)).toBeGreaterThanOrEqual(2);
    }), 600_000);
  }
});

/** Whether one of Flightdeck's sessions (pg_dump, pg_restore) in that database waits for a lock; asked on a fresh connection (a transaction's pg_stat_activity is a snapshot). */
async function isWaitingForLock(database: string, queryCondition: string): Promise<boolean> {
  const { rowCount } = await withClient(databaseUrl(inject('postgresUrl'), 'postgres'), (observer) => observer.query(
    `select 1 from pg_stat_activity where datname = $1 and application_name = 'flightdeck-backup' and wait_event_type = 'Lock' and ${queryCondition}`, [database]));
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
