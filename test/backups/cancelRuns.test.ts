// Cancelling a backup or a restore (lib/operations.ts cancelRun: Temporal's own cancellation, the
// reason sent first): the run closes CANCELED, says who and why, and leaves nothing half done.
import fs from 'node:fs';
import { Context } from '@temporalio/activity';
import { beforeAll, describe, expect, it } from 'vitest';
import { approvalUpdate, statusQuery, type RunStatus } from '../../lib/messages.js';
import { cancelRun } from '../../lib/operations.js';
import { backupDatabase } from '../../workflows/backupDatabase.js';
import { restoreDatabase } from '../../workflows/restoreDatabase.js';
import { createDatabase, databaseUrl } from '../helpers/postgres.js';
import { useBackupTestEnvironment, waitFor } from './helpers/backupTestEnvironment.js';
import { withClient } from './helpers/sampleDatabase.js';

const harness = useBackupTestEnvironment();
const SECRET = 'STOCK_DATABASE_URL';
const requester = { source: 'api', actor: 'bob' } as const;
let liveUrl = '';
let live = '';

beforeAll(async () => {
  liveUrl = await createDatabase(harness.serverUrl, 'stock');
  live = new URL(liveUrl).pathname.slice(1);
  await withClient(liveUrl, (c) => c.query('create table items as select g as id, md5(g::text) as sku from generate_series(1, 2000) g'));
  await harness.sim.createApp('stock-prod', { machines: 1 });
  harness.setSecret(SECRET, liveUrl);
  harness.setConfig({
    apps: { stock: { repository: '.', environments: { production: { flyApp: 'stock-prod', permissions: { restore: ['alice'] } } } } },
    databases: { stock: { app: 'stock', secret: SECRET } },
  });
});

/** A cancel reaches an activity with its next heartbeat: sent at once here, not throttled to 80% of the timeout. */
const PROMPT_HEARTBEATS = { maxHeartbeatThrottleInterval: '1s' } as const;

/** Stored files (dumps and manifests) whose name contains the backup id. */
function storedFilesOf(backupId: string): string[] {
  return fs.readdirSync(harness.storageDir, { recursive: true }).map(String).filter((f) => f.includes(backupId));
}

async function statusOf(workflowId: string): Promise<RunStatus> {
  return harness.kit.client.workflow.getHandle(workflowId).query(statusQuery);
}

async function closedAs(workflowId: string): Promise<string> {
  const handle = harness.kit.client.workflow.getHandle(workflowId);
  await handle.result().catch(() => undefined);
  return (await handle.describe()).status.name;
}

/** Stands in for a long verification: heartbeats until the activity is cancelled. */
async function verifyingUntilCancelled(): Promise<never> {
  const context = Context.current();
  for (;;) {
    context.heartbeat({ phase: 'verify' });
    await context.sleep(200);
  }
}

describe('cancelling a backup', () => {
  it('after its dump was stored: deletes the dump and its manifest, and closes CANCELED with who and why', async () => {
    const workflowId = harness.kit.uniqueId('backup-cancelled');
    const { storedBeforeCancel, backupId, status } = await harness.kit.withWorker(harness.activities({ verifyBackup: verifyingUntilCancelled }), async (taskQueue) => {
      await harness.kit.client.workflow.start(backupDatabase, { taskQueue, workflowId, args: [{ database: 'stock', trigger: requester }] });
      const verifying = await waitFor(async () => {
        const status = await statusOf(workflowId);
        return status.stages.some((s) => s.name === 'verify' && s.state === 'running') ? status : undefined;
      }, 'the verify stage');
      const id = String(verifying.facts.backup);
      const stored = storedFilesOf(id);
      await cancelRun(harness.kit.client, workflowId, { actor: 'U_BOB', reason: 'wrong database' });
      expect(await closedAs(workflowId)).toBe('CANCELLED');
      return { storedBeforeCancel: stored, backupId: id, status: await statusOf(workflowId) };
    }, PROMPT_HEARTBEATS);

    // The dump, the cluster's globals stored beside it, and the manifest.
    expect(storedBeforeCancel).toHaveLength(3);
    expect(storedFilesOf(backupId)).toEqual([]);
    expect(status.state).toBe('cancelled');
    expect(status.outcome).toBe(`Cancelled by U_BOB (wrong database) during verify. Nothing was kept: backup ${backupId} of stock was deleted.`);
    expect(status.facts).toMatchObject({ 'cancelled by': 'U_BOB', 'cancel reason': 'wrong database' });
    expect(harness.slack.allText()).toContain('wrong database');
  });
});

describe('cancelling a restore', () => {
  it('before its swap: the live database is untouched, the staging copy and the safety backup are gone, and it closes CANCELED', async () => {
    const workflowId = harness.kit.uniqueId('restore-cancelled');
    await harness.kit.withWorker(harness.activities(), async (taskQueue) => {
      const backup = await harness.kit.client.workflow.execute(backupDatabase, { taskQueue, workflowId: harness.kit.uniqueId('backup'), args: [{ database: 'stock', trigger: requester }] });
      // Written after the backup: a restore that went through would take it away.
      await withClient(liveUrl, (c) => c.query(`insert into items values (0, 'written after the backup')`));

      await withClient(liveUrl, async (locker) => {
        // The safety backup's pg_dump waits for this lock, so the run is reliably before its swap when cancelled.
        await locker.query('begin');
        await locker.query('lock table items in access exclusive mode');
        const handle = await harness.kit.client.workflow.start(restoreDatabase, {
          taskQueue, workflowId, args: [{ database: 'stock', backupId: backup.backupId, targetDatabase: live, isOverwriteConfirmed: true, trigger: requester }],
        });
        await waitFor(async () => ((await statusOf(workflowId)).state === 'waiting-for-approval' ? true : undefined), 'the approval request');
        await handle.executeUpdate(approvalUpdate, { args: [{ isApproved: true, actor: 'alice' }] });
        await waitFor(async () => (await isDumpWaitingForLock() ? true : undefined), 'the safety backup waiting for the lock', 60_000);

        await cancelRun(harness.kit.client, workflowId, { actor: 'U_BOB', reason: 'wrong backup' });
        expect(await closedAs(workflowId)).toBe('CANCELLED');
        await locker.query('rollback');
      });

      const status = await statusOf(workflowId);
      expect(status.state).toBe('cancelled');
      expect(status.outcome).toMatch(new RegExp(`^Cancelled by U_BOB \\(wrong backup\\) during safety backup: ${live} was not touched; its staging copy ${live}_restoring_\\w+ was dropped\\.$`));
      expect(await closedAs(`${workflowId}/safety-backup`)).toBe('CANCELLED');
      const safety = await statusOf(`${workflowId}/safety-backup`);
      const safetyBackupId = String(safety.facts.backup);
      expect(safetyBackupId).not.toBe(backup.backupId);
      expect(storedFilesOf(safetyBackupId), JSON.stringify({ safety, all: fs.readdirSync(harness.storageDir, { recursive: true }) })).toEqual([]);
    }, PROMPT_HEARTBEATS);

    await withClient(liveUrl, async (c) => {
      expect((await c.query(`select sku from items where id = 0`)).rows).toEqual([{ sku: 'written after the backup' }]);
      expect((await c.query('select count(*)::int as n from items')).rows).toEqual([{ n: 2001 }]);
    });
    await withClient(databaseUrl(harness.serverUrl, 'postgres'), async (admin) => {
      expect((await admin.query(`select datname from pg_database where datname like $1`, [`${live}\\_%`])).rows).toEqual([]);
    });
  });
});

/** Asked on a fresh connection each time (a transaction's pg_stat_activity is a snapshot). */
async function isDumpWaitingForLock(): Promise<boolean> {
  const { rowCount } = await withClient(databaseUrl(harness.serverUrl, 'postgres'), (observer) =>
    observer.query(`select 1 from pg_stat_activity where datname = $1 and application_name = 'flightdeck-backup' and wait_event_type = 'Lock'`, [live]));
  return (rowCount ?? 0) > 0;
}
