import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { createActivities } from '../../activities/index.js';
import { createSlackClient } from '../../activities/slack.js';
import { loadEnvConfig, parseAppsConfig } from '../../lib/config.js';
import { createLogger } from '../../lib/log.js';
import { locatePostgresBinDir } from '../../scripts/localPostgres.js';
import { statusQuery, type MigrateRequest, type RunStatus } from '../../lib/messages.js';
import { cancelRun } from '../../lib/operations.js';
import { waitUntil } from '../deploy/support.js';
import type { DumpResult } from '../../activities/backup/dump.js';
import pg from 'pg';
import { MockActivityEnvironment } from '@temporalio/testing';
import { startFakeSlack, type FakeSlack } from '../helpers/fakeSlack.js';
import { useWorkflowTestKit } from '../helpers/temporal.js';
import { FLIGHTDECK_WORKFLOWS } from '../helpers/workflowBundles.js';
import { migrateDatabase } from '../../workflows/migrateDatabase.js';
import { RECORD, SHOP_MIGRATIONS, appMigrationTool, eventually, useMigrationScratch, writeFiles } from './helpers.js';

const kit = useWorkflowTestKit(FLIGHTDECK_WORKFLOWS);
const scratch = useMigrationScratch();

// The worker reads the secret by this name from its environment, as in production.
const SECRET_NAME = `SHOP_DATABASE_URL_${randomBytes(4).toString('hex').toUpperCase()}`;
const trigger = { source: 'slack' as const, actor: 'alice' };

let slack: FakeSlack;
beforeAll(async () => { slack = await startFakeSlack(); });
afterAll(async () => {
  delete process.env[SECRET_NAME];
  await slack?.close();
});

/**
 * A shop app checkout with the sample migrations, a fresh database behind SECRET_NAME, and the
 * worker's activities as the worker builds them (backups stored in a scratch folder).
 */
async function shopWorld(extraMigrations: Record<string, string> = {}, database: Record<string, unknown> = { migrations: 'db/migrations' }, { isBrandNew = false, backupBeforeMigrate = false, environment = 'production' } = {}) {
  const db = await scratch.database();
  // A live app's database has data; a brand-new one has not even a table.
  if (!isBrandNew) {
    await db.query('create table signups (email text primary key)');
    await db.query(`insert into signups values ('ada@example.com')`);
  }
  process.env[SECRET_NAME] = db.url;
  const workspace = await scratch.folder(appMigrationTool());
  const backupDir = await scratch.folder({});
  await fs.mkdir(path.join(workspace, 'db/migrations'), { recursive: true });
  await writeFiles(path.join(workspace, 'db/migrations'), { ...SHOP_MIGRATIONS, ...extraMigrations });
  const config = parseAppsConfig({
    apps: { shop: { repository: workspace, database: { secret: SECRET_NAME, ...database }, environments: { [environment]: { flyApp: 'shop' } } } },
    // Found by its secret; without `app`, the backup does not ask Fly for the release. Tests about
    // something else opt out of the backup before migrating, to stay quick.
    databases: { 'shop-db': { secret: SECRET_NAME, backupBeforeMigrate } },
    storage: { type: 'local', dir: backupDir },
  });
  const deps = {
    // pg_dump and pg_restore of the test server's version, as PG_BIN_DIR pins them in production.
    env: loadEnvConfig({ SLACK_CHANNEL: '#db', FLIGHTDECK_WORK_DIR: path.join(workspace, '.work'), PG_BIN_DIR: locatePostgresBinDir() }),
    logger: createLogger({ level: 'silent' }),
    slack: createSlackClient('xoxb-test-token', slack.apiUrl),
    loadAppsConfig: () => config,
  };
  const activities = createActivities(deps);
  const request = (overrides: Partial<MigrateRequest>): MigrateRequest => ({ app: 'shop', environment, action: 'apply', workspace, trigger, ...overrides });
  return { db, workspace, backupDir, activities, request };
}

/**
 * The migrator's sessions of this test's database that are in the middle of the slow migration's
 * statement or its transaction (other test files' migrators share the server: only this database counts).
 */
async function runningSlowMigration(db: { query: (sql: string) => Promise<unknown[]> }): Promise<unknown[]> {
  return db.query(`select pid, state from pg_stat_activity where datname = current_database() and application_name = 'flightdeck-migrate'
    and state <> 'idle' and query like '%pg_sleep(300)%'`);
}

/** Everything the run's history holds, payloads decoded to text, as anyone with UI access would see it. */
async function historyText(handle: WorkflowHandle): Promise<string> {
  const history = await handle.fetchHistory();
  return JSON.stringify(history, (key, value: unknown) => {
    if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
    // Payload data arrives base64-encoded.
    if (key === 'data' && typeof value === 'string') return Buffer.from(value, 'base64').toString('utf8');
    return value;
  });
}

/** Asserted as booleans, so a failure does not print the history (or the secret) into the test log. */
function expectNoSecretIn(text: string, url: string): void {
  expect(text.includes(passwordOf(url)), 'the database password is in the workflow history').toBe(false);
  expect(text.includes(encodeURIComponent(passwordOf(url))), 'the encoded database password is in the workflow history').toBe(false);
}

function passwordOf(url: string): string {
  const password = decodeURIComponent(new URL(url).password);
  expect(password.length).toBeGreaterThan(5);
  return password;
}

/** The runs' own messages (the backup child posts its own). */
function migrationMessages() {
  return slack.messages.filter((m) => !m.threadTs && m.text.includes('migrate shop'));
}

describe('migrateDatabase workflow', () => {
  it('takes a verified backup, applies the pending migrations, records release and backup, and reports in one Slack message', async () => {
    const world = await shopWorld();
    const messagesBefore = migrationMessages().length;

    const { result, handle, status } = await kit.withWorker(world.activities, async (taskQueue) => {
      const handle = await kit.client.workflow.start(migrateDatabase, {
        taskQueue, workflowId: kit.uniqueId('migrate-shop'), args: [world.request({ backupFirst: true, releaseVersion: 'v7' })],
      });
      const result = await handle.result();
      // A closed run still answers queries, through a worker.
      return { result, handle, status: await handle.query(statusQuery) };
    });

    const backupId = result.backupId!;
    expect(result).toMatchObject({ mode: 'files', appliedVersions: [1, 2, 3, 4], status: { currentVersion: 4, pending: [] } });
    expect(result.summary).toBe(`Applied 4 migrations (1_create_users, 2_create_orders, 3_add_user_name, 4_index_orders_by_user); at version 4, none pending. Backup ${backupId} was taken first.`);
    expect(JSON.stringify(await fs.readdir(world.backupDir, { recursive: true }))).toContain(backupId);
    expect(await world.db.query('select distinct ran_by, workflow_id, release_version, backup_id from flightdeck_migration_history'))
      .toEqual([{ ran_by: 'slack:alice', workflow_id: handle.workflowId, release_version: 'v7', backup_id: backupId }]);

    expect(status).toMatchObject({ kind: 'migrate', state: 'succeeded', app: 'shop', facts: { version: 4, pending: 0, backup: backupId } });
    expect(status.stages.map((s) => [s.name, s.state])).toEqual([['inspect', 'succeeded'], ['backup', 'succeeded'], ['migrate', 'succeeded']]);

    const messages = migrationMessages().slice(messagesBefore);
    expect(messages).toHaveLength(1);
    expect(messages[0]!.channel).toBe('#db');
    expect(messages[0]!.text).toMatch(/migrate shop \/ production: succeeded/);
    expect(messages[0]!.text).toMatch(/Applied 4 migrations/);
    expect(messages[0]!.text).toMatch(/an image rollback never rolls the schema back/);

    const history = await historyText(handle);
    expect(history.includes(world.workspace), 'payloads were decoded').toBe(true);
    expectNoSecretIn(history, world.db.url);
    expectNoSecretIn(await historyText(kit.client.workflow.getHandle(`${handle.workflowId}/backup`)), world.db.url);
  });

  it('backs up a brand-new, empty database before its first migrations', async () => {
    const world = await shopWorld({}, undefined, { isBrandNew: true, backupBeforeMigrate: true });

    const result = await kit.withWorker(world.activities, (taskQueue) => kit.client.workflow.execute(migrateDatabase, {
      taskQueue, workflowId: kit.uniqueId('migrate-new-shop'), args: [world.request({})],
    }));

    expect(result).toMatchObject({ appliedVersions: [1, 2, 3, 4], backupId: expect.any(String) });
    const [manifestFile] = (await fs.readdir(world.backupDir, { recursive: true })).filter((f) => f.endsWith(`${result.backupId}.manifest.json`));
    const manifest = JSON.parse(await fs.readFile(path.join(world.backupDir, manifestFile!), 'utf8')) as { status: string; source: { tables: string[] } };
    expect(manifest).toMatchObject({ status: 'verified', source: { tables: [] } });
  });

  it('backs up first when Slack starts a migration of a staging database that has a databases: entry, as the pipeline does', async () => {
    // The request Slack sends: an environment, no backupFirst. The config alone decides the backup.
    const world = await shopWorld({}, undefined, { backupBeforeMigrate: true, environment: 'staging' });

    const { result, status } = await kit.withWorker(world.activities, async (taskQueue) => {
      const handle = await kit.client.workflow.start(migrateDatabase, { taskQueue, workflowId: kit.uniqueId('migrate-staging-shop'), args: [world.request({})] });
      return { result: await handle.result(), status: await handle.query(statusQuery) };
    });

    expect(result.backupId).toEqual(expect.any(String));
    expect(status.stages.map((s) => [s.name, s.state])).toEqual([['inspect', 'succeeded'], ['backup', 'succeeded'], ['migrate', 'succeeded']]);
    expect(await world.db.query('select distinct backup_id from flightdeck_migration_history')).toEqual([{ backup_id: result.backupId }]);
  });

  it('fails loudly on a failing migration, leaves the database as it was before it, and keeps the password out of history', async () => {
    const world = await shopWorld({ '0005_add_audit.up.sql': 'create table audit (id int);\ninsert into no_such_table values (1);\n' });
    const messagesBefore = migrationMessages().length;

    const { failure, handle } = await kit.withWorker(world.activities, async (taskQueue) => {
      const handle = await kit.client.workflow.start(migrateDatabase, { taskQueue, workflowId: kit.uniqueId('migrate-shop'), args: [world.request({})] });
      return { failure: await handle.result().then(() => undefined, (e: unknown) => e), handle };
    });

    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const cause = (failure as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause.type).toBe('MigrationFailed');
    expect(cause.message).toMatch(/5_add_audit \(up\) failed and was rolled back: relation "no_such_table" does not exist.*\(applied before the failure: 1, 2, 3, 4\)/);
    expect(await world.db.query('select version, dirty from schema_migrations')).toEqual([{ version: '4', dirty: false }]);
    expect(await world.db.query(`select to_regclass('audit') as audit`)).toEqual([{ audit: null }]);

    const [message] = migrationMessages().slice(messagesBefore);
    expect(message!.text).toMatch(/FAILED/);
    expect(message!.text).toMatch(/:rotating_light: Migration apply failed/);
    expectNoSecretIn(await historyText(handle), world.db.url);
  });

  it('a cancel during a migration stops its statement: that migration is rolled back, the database is clean, and the run closes CANCELED saying where it stopped', async () => {
    const world = await shopWorld({ '0005_backfill_slowly.up.sql': 'create table audit (id int);\nselect pg_sleep(300);\n' });

    const { status, closedAs, statementsAtClose } = await kit.withWorker(world.activities, async (taskQueue) => {
      const handle = await kit.client.workflow.start(migrateDatabase, { taskQueue, workflowId: kit.uniqueId('migrate-shop'), args: [world.request({})] });
      await waitUntil('the slow migration to be running', async () => (await runningSlowMigration(world.db)).length > 0);
      await cancelRun(kit.client, handle.workflowId, { actor: 'U_BOB', reason: 'too slow for today' });
      await handle.result().catch(() => undefined);
      // Read as soon as the run closes, while its worker still runs (a worker's shutdown would stop the statement too).
      const statementsAtClose = await runningSlowMigration(world.db);
      return { status: await handle.query(statusQuery), closedAs: (await handle.describe()).status.name, statementsAtClose };
    // A cancel reaches an activity with its next heartbeat: sent at once here, not throttled to 80% of the timeout.
    }, { maxHeartbeatThrottleInterval: '1s' });

    // The run reports only once the migrator has stopped its statement and rolled its transaction back.
    expect(statementsAtClose).toEqual([]);

    expect(closedAs).toBe('CANCELLED');
    expect(status.state).toBe('cancelled');
    // The versions this run applied before the cancel are named, whichever ended the activity (the cancel or the migrator's failure).
    expect(status.outcome).toBe('Cancelled by U_BOB (too slow for today) during migrate: the database is at version 4, 1 pending (5_backfill_slowly) (applied before the cancel: 1, 2, 3, 4).');
    expect(status.facts).toMatchObject({ 'cancelled by': 'U_BOB', 'cancel reason': 'too slow for today', version: 4 });
    expect(await world.db.query('select version, dirty from schema_migrations')).toEqual([{ version: '4', dirty: false }]);
    expect(await world.db.query(`select to_regclass('audit') as audit`)).toEqual([{ audit: null }]);
  });

  it('a cancel during the only migration a run would apply says none was applied before it', async () => {
    const world = await shopWorld({ '0005_backfill_slowly.up.sql': 'create table audit (id int);\nselect pg_sleep(300);\n' });

    const status = await kit.withWorker(world.activities, async (taskQueue) => {
      await kit.client.workflow.execute(migrateDatabase, { taskQueue, workflowId: kit.uniqueId('migrate-shop'), args: [world.request({ toVersion: 4 })] });
      const handle = await kit.client.workflow.start(migrateDatabase, { taskQueue, workflowId: kit.uniqueId('migrate-shop'), args: [world.request({})] });
      await waitUntil('the slow migration to be running', async () => (await runningSlowMigration(world.db)).length > 0);
      await cancelRun(kit.client, handle.workflowId, { actor: 'U_BOB', reason: 'not today' });
      await handle.result().catch(() => undefined);
      return handle.query(statusQuery);
    }, { maxHeartbeatThrottleInterval: '1s' });

    expect(status.outcome).toBe('Cancelled by U_BOB (not today) during migrate: the database is at version 4, 1 pending (5_backfill_slowly) (none applied before the cancel).');
  });

  it('guides the recovery of a dirty database: status shows the failed version, apply is refused until a forced version', async () => {
    const brokenIndex = '-- flightdeck:no-transaction\ncreate table archive (id int);\ncreate index concurrently archive_idx on no_such_table (id);\n';
    const world = await shopWorld({ '0005_add_archive.up.sql': brokenIndex });

    await kit.withWorker(world.activities, async (taskQueue) => {
      const migrate = (overrides: Partial<MigrateRequest>) => kit.client.workflow.execute(migrateDatabase, { taskQueue, workflowId: kit.uniqueId('migrate-shop'), args: [world.request(overrides)] });
      const failureOf = (overrides: Partial<MigrateRequest>) => migrate(overrides).then(() => undefined, (e: unknown) => (e as WorkflowFailedError).cause as ApplicationFailure);

      const failed = await failureOf({});
      expect(failed?.type).toBe('MigrationFailed');
      expect(failed?.message).toMatch(/5_add_archive \(up\) failed part-way outside a transaction.*The database is now DIRTY/s);

      const status = await migrate({ action: 'status' });
      expect(status.status).toMatchObject({ currentVersion: 5, isDirty: true });
      expect(status.summary).toMatch(/dirty at version 5: 5_add_archive failed part-way: relation "no_such_table" does not exist/);
      expect(status.summary).toMatch(/forceVersion 5 if the migration's changes are now complete, or forceVersion 4 if they are fully undone/);
      expect((await failureOf({}))?.type).toBe('MigrationDirty');

      // The operator undoes what ran, fixes the file, and forces the version before it: only on request.
      await world.db.query('drop table archive');
      await writeFiles(path.join(world.workspace, 'db/migrations'), { '0005_add_archive.up.sql': brokenIndex.replace('no_such_table', 'archive') });
      const forced = await migrate({ action: 'force', forceVersion: 4 });
      expect(forced.status).toMatchObject({ currentVersion: 4, isDirty: false });
      expect(forced.summary).toMatch(/^Forced version 4: recorded as applied and clean; nothing was run/);

      expect((await migrate({})).appliedVersions).toEqual([5]);
    });
    expect(await world.db.query('select version, dirty from schema_migrations')).toEqual([{ version: '5', dirty: false }]);
    expect(slack.messages.some((m) => m.threadTs && m.text.startsWith('How to recover:') && m.text.includes('forceVersion 4'))).toBe(true);
  });

  it('dry-runs a rollback: the SQL that would run, newest first, and nothing changed', async () => {
    const world = await shopWorld();
    const result = await kit.withWorker(world.activities, async (taskQueue) => {
      await kit.client.workflow.execute(migrateDatabase, { taskQueue, workflowId: kit.uniqueId('migrate-shop'), args: [world.request({})] });
      return kit.client.workflow.execute(migrateDatabase, { taskQueue, workflowId: kit.uniqueId('migrate-shop'), args: [world.request({ action: 'plan', steps: 2 })] });
    });

    expect(result.plan.map((m) => [m.version, m.direction, m.sql])).toEqual([
      [4, 'down', SHOP_MIGRATIONS['0004_index_orders_by_user.down.sql']],
      [3, 'down', SHOP_MIGRATIONS['0003_add_user_name.down.sql']],
    ]);
    expect(result.summary).toBe('Dry run: would roll back 2 migrations (4_index_orders_by_user, 3_add_user_name), in this order. Nothing was changed.');
    expect(await world.db.query('select version from schema_migrations')).toEqual([{ version: '4' }]);
  });

  it("runs the app's own migration command instead when it declares one, and refuses what only files allow", async () => {
    const world = await shopWorld({}, { migrateCommand: [process.execPath, 'migrate.mjs'] });

    const { applied, refusal } = await kit.withWorker(world.activities, async (taskQueue) => ({
      applied: await kit.client.workflow.execute(migrateDatabase, { taskQueue, workflowId: kit.uniqueId('migrate-shop'), args: [world.request({})] }),
      refusal: await kit.client.workflow.execute(migrateDatabase, { taskQueue, workflowId: kit.uniqueId('migrate-shop'), args: [world.request({ action: 'rollback', steps: 1 })] })
        .catch((e: unknown) => e),
    }));

    expect(applied).toMatchObject({ mode: 'command', summary: "Ran the app's migration command (2 migrations applied by the app tool)." });
    expect(await world.db.query('select args from made_by_app_tool')).toEqual([{ args: '[]' }]);
    expect(((refusal as WorkflowFailedError).cause as ApplicationFailure).type).toBe('InvalidInput');
    expect((refusal as WorkflowFailedError).cause!.message).toMatch(/migrates with its own command .* can only run it \(apply\), not rollback/);
  });
});

describe('migrations and backup dumps of the same database', () => {
  /** An activity run whose heartbeats are collected (the phase of a dump, the last line of a migration). */
  function heartbeating<T>(run: (activity: MockActivityEnvironment) => Promise<unknown>) {
    const beats: Array<{ phase?: string; lastLine?: string }> = [];
    const activity = new MockActivityEnvironment();
    activity.on('heartbeat', (details: { phase?: string; lastLine?: string }) => { if (details) beats.push(details); });
    return { running: run(activity) as Promise<T>, beats };
  }

  function startDump(world: Awaited<ReturnType<typeof shopWorld>>) {
    return heartbeating<DumpResult>((activity) => activity.run(world.activities.dumpDatabase, {
      backupId: `shop-db-${randomBytes(3).toString('hex')}`, database: 'shop-db', app: 'unknown', releaseVersion: 'unknown', compressionLevel: 1, trigger,
    }));
  }

  /** A dump of the shop database held mid-way: pg_dump waits behind the test's lock on signups. */
  async function heldDump(world: Awaited<ReturnType<typeof shopWorld>>) {
    const locker = new pg.Client({ connectionString: world.db.url });
    await locker.connect();
    await locker.query('begin; lock table signups in access exclusive mode');
    let finishedAt: number | undefined;
    const dumping = startDump(world).running.then((dump) => { finishedAt = Date.now(); return dump; });
    const isDumpWaitingOnLock = async () => (await world.db.query(`select 1 from pg_stat_activity where application_name = 'flightdeck-backup' and wait_event_type = 'Lock'`)).length > 0;
    return {
      dumping, isDumpWaitingOnLock, finishedAt: () => finishedAt,
      release: async () => { await locker.query('rollback'); await locker.end(); },
    };
  }

  it('waits for a running dump before migrating, says so in its status, and migrates once the dump is done', async () => {
    const world = await shopWorld();
    const dump = await heldDump(world);
    await eventually(dump.isDumpWaitingOnLock, 'pg_dump is under way');

    const { result, waitingStatus } = await kit.withWorker(world.activities, async (taskQueue) => {
      const handle = await kit.client.workflow.start(migrateDatabase, { taskQueue, workflowId: kit.uniqueId('migrate-during-dump'), args: [world.request({})] });
      let waitingStatus: RunStatus | undefined;
      await eventually(async () => {
        waitingStatus = await handle.query(statusQuery);
        return typeof waitingStatus.facts['waiting for'] === 'string';
      }, 'the run says what it waits for', 30_000);
      // Nothing has run: not even the state tables exist.
      expect(await world.db.query(`select 1 from information_schema.tables where table_name = 'schema_migrations'`)).toEqual([]);
      await dump.release();
      return { result: await handle.result(), waitingStatus };
    });

    expect(waitingStatus!.facts['waiting for']).toMatch(/^a backup dump of the database to finish \(held by PostgreSQL process \d+, application "flightdeck-backup", connected since /);
    expect(waitingStatus!.currentStage).toBe('migrate');
    expect(result.appliedVersions).toEqual([1, 2, 3, 4]);
    const [firstStart] = await world.db.query<{ startedAt: Date }>('select min(started_at) as "startedAt" from flightdeck_migration_history');
    expect((await dump.dumping).tableCount).toBe(1);
    expect(firstStart!.startedAt.getTime()).toBeGreaterThanOrEqual(dump.finishedAt()! - 1000);
  });

  it('holds a dump back while a migration runs, so the dump has the migrated schema', async () => {
    // The first migration waits on the test's lock while it holds the migration's side of the lock.
    const world = await shopWorld({ '0001_create_users.up.sql': `insert into gate values (1);\n${SHOP_MIGRATIONS['0001_create_users.up.sql']}` });
    await world.db.query('create table gate (id int)');
    const gateKeeper = new pg.Client({ connectionString: world.db.url });
    await gateKeeper.connect();
    await gateKeeper.query('begin; lock table gate in access exclusive mode');
    const migrating = new MockActivityEnvironment().run(world.activities.applyMigrations, { app: 'shop', environment: 'production', workspace: world.workspace, record: RECORD });
    await eventually(async () => (await world.db.query(`select 1 from pg_locks where relation = 'gate'::regclass and not granted`)).length > 0, 'the migration runs');

    const dump = startDump(world);
    await eventually(async () => dump.beats.some((beat) => beat.phase?.startsWith('waiting for a migration to finish (held by PostgreSQL process')), 'the dump waits');
    await gateKeeper.query('commit');
    await gateKeeper.end();

    expect(await migrating).toMatchObject({ appliedVersions: [1, 2, 3, 4] });
    expect((await dump.running).tableCount).toBe(6);
  });

  it("gives up a migration's ALTER after the database's configured lock_timeout, and retries it", async () => {
    const world = await shopWorld({ '0005_add_signup_note.up.sql': 'alter table signups add column note text;\n' }, { migrations: 'db/migrations', lockTimeout: '300ms' });
    const reader = new pg.Client({ connectionString: world.db.url });
    await reader.connect();
    await reader.query('begin; select count(*) from signups');
    const applying = heartbeating((activity) => activity.run(world.activities.applyMigrations, { app: 'shop', environment: 'production', workspace: world.workspace, record: RECORD }));
    try {
      await eventually(async () => applying.beats.some((beat) => beat.lastLine?.includes('lock_timeout (300 ms) reached')), 'the ALTER gives up once', 20_000);
    } finally {
      await reader.query('commit');
      await reader.end();
    }
    expect(await applying.running).toMatchObject({ appliedVersions: [1, 2, 3, 4, 5] });
  });
});
