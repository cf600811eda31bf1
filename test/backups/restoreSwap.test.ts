// Restores a DBA would trust: into a staging database, checked there, then swapped in; the live
// database untouched on failure and kept renamed on success. Real Temporal, PostgreSQL, pg_restore.
import { randomBytes } from 'node:crypto';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { listCatalog, seriesOf } from '../../activities/backup/catalog.js';
import { createLocalStorage } from '../../activities/backup/localStorage.js';
import { requestRestore } from '../../lib/databaseOperations.js';
import { failureType, rootMessage } from '../../lib/errors.js';
import { approvalUpdate, type RestoreRequest, type RestoreResult } from '../../lib/messages.js';
import { backupDatabase } from '../../workflows/backupDatabase.js';
import { restoreDatabase } from '../../workflows/restoreDatabase.js';
import { createDatabase, databaseUrl, withAdminClient } from '../helpers/postgres.js';
import { useBackupTestEnvironment, waitFor } from './helpers/backupTestEnvironment.js';

const harness = useBackupTestEnvironment();
const trigger = { source: 'api', actor: 'alice' } as const;
const live: Record<string, string> = {};

/** A small live database per test (each test overwrites or damages its own). */
async function liveDatabase(configName: string, schema: string): Promise<{ url: string; name: string }> {
  const url = await createDatabase(harness.serverUrl, configName);
  await withAdminClient(url, (c) => c.query(schema));
  live[configName] = url;
  harness.setSecret(`${configName.toUpperCase()}_DATABASE_URL`, url);
  harness.setConfig({
    apps: { shop: { repository: '.', environments: { production: { flyApp: 'shop-prod', permissions: { restore: ['alice'] } } } } },
    databases: Object.fromEntries(Object.keys(live).map((name) => [name, {
      app: 'shop', secret: `${name.toUpperCase()}_DATABASE_URL`, retention: { maxAge: '30d', maxCount: 1, minVerified: 1 },
    }])),
  });
  return { url, name: new URL(url).pathname.slice(1) };
}

async function databasesLike(pattern: string): Promise<string[]> {
  return withAdminClient(harness.serverUrl, async (c) => (await c.query<{ datname: string }>('select datname from pg_database where datname like $1 order by 1', [pattern])).rows.map((r) => r.datname));
}

async function approveWhenAsked(handle: WorkflowHandle): Promise<void> {
  await waitFor(async () => ((await handle.query('status') as { state: string }).state === 'waiting-for-approval' ? true : undefined), 'the approval request', 60_000);
  await handle.executeUpdate(approvalUpdate, { args: [{ isApproved: true, actor: 'alice' }] });
}

const EVENTS = 'create table events (id bigint primary key, note text not null);';

beforeAll(async () => {
  await harness.sim.createApp('shop-prod', { machines: 1 });
});

describe('restoring by swap', () => {
  it('restores over a live database that keeps taking writes: nothing committed before the safety backup is lost, and the old database is kept renamed', async () => {
    const db = await liveDatabase('orders', `${EVENTS} insert into events select g, 'before the backup' from generate_series(1, 500) g;`);
    const restoreId = harness.kit.uniqueId('restore-swap');
    const { restored, acknowledged } = await harness.kit.withWorker(harness.activities(), async (taskQueue) => {
      const backup = await harness.kit.client.workflow.execute(backupDatabase, { taskQueue, workflowId: harness.kit.uniqueId('backup'), args: [{ database: 'orders', trigger }] });
      // The app keeps writing, one committed row at a time, until the swap cuts it off.
      const acknowledged: Array<{ id: number; at: number }> = [];
      const writer = new pg.Client({ connectionString: db.url });
      writer.on('error', () => undefined);
      await writer.connect();
      let isStopped = false;
      const writing = (async () => {
        for (let id = 1001; !isStopped; id++) {
          try {
            await writer.query('insert into events values ($1, $2)', [id, 'written during the restore']);
          } catch {
            return;
          }
          acknowledged.push({ id, at: Date.now() });
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      })();
      const request: RestoreRequest = { database: 'orders', backupId: backup.backupId, targetDatabase: db.name, isOverwriteConfirmed: true, trigger };
      const handle = await harness.kit.client.workflow.start(restoreDatabase, { taskQueue, workflowId: restoreId, args: [request] });
      await approveWhenAsked(handle);
      const restored = await handle.result();
      isStopped = true;
      await writing;
      await writer.end().catch(() => undefined);
      return { restored, acknowledged };
    });

    expect(restored.preRestoreDatabase).toMatch(new RegExp(`^${db.name}_pre_restore_\\d{14}$`));
    // The swap cut the writer off: it had been writing right up to it.
    expect(acknowledged.length).toBeGreaterThan(0);
    const rowsOf = (url: string) => withAdminClient(url, async (c) => (await c.query<{ id: string }>('select id from events order by id')).rows.map((r) => Number(r.id)));
    expect((await rowsOf(db.url)).length).toBe(500);
    const kept = new Set(await rowsOf(databaseUrl(harness.serverUrl, restored.preRestoreDatabase!)));
    expect(acknowledged.filter((w) => !kept.has(w.id))).toEqual([]);

    const safety = (await listCatalog(createLocalStorage(harness.storageDir), seriesOf('shop', 'orders'))).manifests.find((m) => m.backupId === restored.safetyBackupId)!;
    expect(safety).toMatchObject({ status: 'verified', isSafetyBackup: true });
    const committedBeforeSnapshot = acknowledged.filter((w) => w.at < Date.parse(safety.createdAt)).length;
    expect(safety.source.rowCounts['public.events']).toBeGreaterThanOrEqual(500 + committedBeforeSnapshot);
    expect(restored.writeLossWindow).toContain(`every write up to the swap is kept in ${restored.preRestoreDatabase}`);
    expect(harness.slack.allText()).toContain(`write-loss window: Writes committed to ${db.name} from ${safety.createdAt}`);
    expect(await databasesLike(`${db.name}_restoring_%`)).toEqual([]);
  });

  it('leaves the live database untouched when the restore fails halfway', async () => {
    const owner = `doomed_${randomBytes(4).toString('hex')}`;
    await withAdminClient(harness.serverUrl, (c) => c.query(`create role ${owner}`));
    const db = await liveDatabase('ledger', `${EVENTS} insert into events select g, 'old' from generate_series(1, 300) g;
      create table audit (note text); alter table audit owner to ${owner};`);
    const failure = await harness.kit.withWorker(harness.activities(), async (taskQueue) => {
      const backup = await harness.kit.client.workflow.execute(backupDatabase, { taskQueue, workflowId: harness.kit.uniqueId('backup'), args: [{ database: 'ledger', trigger }] });
      // Since the backup: new rows, and the owner of one of its tables is gone, so pg_restore stops part-way.
      await withAdminClient(db.url, async (c) => {
        await c.query(`insert into events select g, 'new' from generate_series(301, 400) g`);
        await c.query(`drop table audit; drop role ${owner}`);
      });
      const request: RestoreRequest = { database: 'ledger', backupId: backup.backupId, targetDatabase: db.name, isOverwriteConfirmed: true, trigger };
      const handle = await harness.kit.client.workflow.start(restoreDatabase, { taskQueue, workflowId: harness.kit.uniqueId('restore-fails'), args: [request] });
      await approveWhenAsked(handle);
      return handle.result().catch((err: unknown) => err);
    });

    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect(failureType(failure)).toBe('BackupRestoreFailed');
    expect(rootMessage(failure)).toMatch(new RegExp(`${db.name} was not touched.*role "${owner}" does not exist`));
    const rows = await withAdminClient(db.url, async (c) => Number((await c.query<{ n: string }>('select count(*) as n from events')).rows[0]!.n));
    expect(rows).toBe(400);
    expect(await databasesLike(`${db.name}\\_%`)).toEqual([]);
  });

  it('brings back the database\'s own search_path and its revoked CONNECT', async () => {
    const db = await liveDatabase('tenants', 'create schema app; create table app.accounts (id int); insert into app.accounts select generate_series(1, 10);');
    await withAdminClient(db.url, async (c) => {
      await c.query(`alter database ${db.name} set search_path = app, public`);
      await c.query(`revoke connect on database ${db.name} from public`);
    });
    const restored = await harness.kit.withWorker(harness.activities(), async (taskQueue) => {
      const backup = await harness.kit.client.workflow.execute(backupDatabase, { taskQueue, workflowId: harness.kit.uniqueId('backup'), args: [{ database: 'tenants', trigger }] });
      return harness.kit.client.workflow.execute(restoreDatabase, { taskQueue, workflowId: harness.kit.uniqueId('restore-props'), args: [{ database: 'tenants', backupId: backup.backupId, trigger }] });
    });

    const propertiesOf = (name: string) => withAdminClient(harness.serverUrl, async (c) => (await c.query<{ acl: string; settings: string[] }>(
      `select d.datacl::text as acl, s.setconfig as settings from pg_database d left join pg_db_role_setting s on s.setdatabase = d.oid and s.setrole = 0 where d.datname = $1`, [name])).rows[0]);
    const source = await propertiesOf(db.name);
    expect(source!.acl).not.toMatch(/(^\{|,)=[A-Za-z*]*c[A-Za-z*]*\//);
    expect(await propertiesOf(restored.targetDatabase)).toEqual(source);
    // An unqualified name resolves through the restored search_path, as the app's queries do.
    const accounts = await withAdminClient(databaseUrl(harness.serverUrl, restored.targetDatabase), async (c) => (await c.query('select count(*)::int as n from accounts')).rows[0]);
    expect(accounts).toEqual({ n: 10 });
    expect(restored.checks.find((c) => c.name === 'database properties')).toMatchObject({ isPassed: true });
  });

  it('finishes a restore into a new database whose swap is retried after its first attempt renamed it', async () => {
    await liveDatabase('archive', `${EVENTS} insert into events select g, 'x' from generate_series(1, 50) g;`);
    const activities = harness.activities();
    let swapAttempts = 0;
    const lossyWorker = harness.activities({
      swapInRestoredDatabase: async (input) => {
        swapAttempts++;
        const swapped = await activities.swapInRestoredDatabase(input);
        if (swapAttempts === 1) throw new Error('the worker was lost right after the rename');
        return swapped;
      },
    });
    const restored = await harness.kit.withWorker(lossyWorker, async (taskQueue) => {
      const backup = await harness.kit.client.workflow.execute(backupDatabase, { taskQueue, workflowId: harness.kit.uniqueId('backup'), args: [{ database: 'archive', trigger }] });
      return harness.kit.client.workflow.execute(restoreDatabase, { taskQueue, workflowId: harness.kit.uniqueId('restore-retried'), args: [{ database: 'archive', backupId: backup.backupId, trigger }] });
    });

    expect(swapAttempts).toBe(2);
    expect(restored.isVerified).toBe(true);
    const rows = await withAdminClient(databaseUrl(harness.serverUrl, restored.targetDatabase), async (c) => (await c.query('select count(*)::int as n from events')).rows[0]);
    expect(rows).toEqual({ n: 50 });
  });

  it('holds the backup being restored while the restore waits for approval, so retention cannot delete it', async () => {
    const db = await liveDatabase('billing', `${EVENTS} insert into events values (1, 'one');`);
    const activities = harness.activities();
    const series = seriesOf('shop', 'billing');
    await harness.kit.withWorker(activities, async (taskQueue) => {
      const oldest = await harness.kit.client.workflow.execute(backupDatabase, { taskQueue, workflowId: harness.kit.uniqueId('backup'), args: [{ database: 'billing', trigger }] });
      const request: RestoreRequest = { database: 'billing', backupId: oldest.backupId, targetDatabase: db.name, isOverwriteConfirmed: true, trigger };
      const handle = await harness.kit.client.workflow.start(restoreDatabase, { taskQueue, workflowId: harness.kit.uniqueId('restore-held'), args: [request] });
      await waitFor(async () => ((await handle.query('status') as { state: string }).state === 'waiting-for-approval' ? true : undefined), 'the approval request');
      // A newer backup arrives: retention (at most 1) would delete the one being restored.
      const newer = await harness.kit.client.workflow.execute(backupDatabase, { taskQueue, workflowId: harness.kit.uniqueId('backup'), args: [{ database: 'billing', trigger }] });
      expect(newer.prunedBackupIds).toEqual([]);
      const held = await activities.planBackupRetention({ database: 'billing', series });
      expect(held.keep.find((d) => d.backupId === oldest.backupId)?.reason).toBe(`held by ${handle.workflowId}`);

      await handle.executeUpdate(approvalUpdate, { args: [{ isApproved: false, actor: 'alice', comment: 'not now' }] });
      await handle.result().catch(() => undefined);
      const released = await activities.planBackupRetention({ database: 'billing', series });
      expect(released.delete.map((d) => d.backupId)).toEqual([oldest.backupId]);
    });
  });

  it('starts a re-delivered restore request once, even after its run has finished', async () => {
    await liveDatabase('notes', `${EVENTS} insert into events values (1, 'one');`);
    await harness.kit.withWorker(harness.activities(), async (taskQueue) => {
      const backup = await harness.kit.client.workflow.execute(backupDatabase, { taskQueue, workflowId: harness.kit.uniqueId('backup'), args: [{ database: 'notes', trigger }] });
      const request: RestoreRequest = { database: 'notes', backupId: backup.backupId, trigger: { ...trigger, deliveryId: harness.kit.uniqueId('delivery') } };
      const workflowId = await requestRestore(harness.kit.client, taskQueue, request);
      const first: RestoreResult = await harness.kit.client.workflow.getHandle(workflowId).result();
      const { runId } = await harness.kit.client.workflow.getHandle(workflowId).describe();

      expect(await requestRestore(harness.kit.client, taskQueue, request)).toBe(workflowId);
      expect((await harness.kit.client.workflow.getHandle(workflowId).describe()).runId).toBe(runId);
      expect(await databasesLike(`${first.targetDatabase}%`)).toEqual([first.targetDatabase]);
    });
  });
});
