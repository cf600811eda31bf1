// The backup schedules follow the config: created at worker start, updated when the config changes,
// triggered by hand, and deleted when their database leaves the config. Real Temporal dev server.
import { ScheduleNotFoundError, ScheduleOverlapPolicy } from '@temporalio/client';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BackupResult } from '../../lib/messages.js';
import { requestBackup } from '../../lib/databaseOperations.js';
import { backupScheduleId, syncBackupSchedules } from '../../worker/schedules.js';
import { useBackupTestEnvironment, waitFor } from './helpers/backupTestEnvironment.js';
import { createSampleDatabase } from './helpers/sampleDatabase.js';

const harness = useBackupTestEnvironment();
const SECRET = 'BILLING_DATABASE_URL';

beforeAll(async () => {
  harness.setSecret(SECRET, await createSampleDatabase(harness.serverUrl, 'billing'));
});

/** A config whose cron never fires during the test (January 1st), so only our trigger runs backups. */
function configWith(databases: Record<string, { schedule: string; timezone?: string }>) {
  return harness.setConfig({
    databases: Object.fromEntries(Object.entries(databases).map(([name, settings]) => [name, { secret: SECRET, ...settings }])),
  });
}

describe('backup schedules', () => {
  it('are created at start, updated on config change, triggered by hand, and deleted when removed', async () => {
    const idPrefix = `${harness.kit.uniqueId('backup-test')}/`;
    const billingId = backupScheduleId('billing', idPrefix);
    const archiveId = backupScheduleId('archive', idPrefix);
    const client = harness.kit.client;
    try {
      await harness.kit.withWorker(harness.activities(), async (taskQueue) => {
        const sync = (databases: Parameters<typeof configWith>[0]) => syncBackupSchedules(client, configWith(databases), taskQueue, { idPrefix });

        expect(await sync({ billing: { schedule: '0 3 1 1 *' }, archive: { schedule: '30 4 1 1 *' } })).toEqual({ created: [billingId, archiveId], updated: [], unchanged: [], deleted: [] });
        const created = await client.schedule.getHandle(billingId).describe();
        expect(created.policies).toMatchObject({ overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: 6 * 3_600_000 });
        expect(created.memo).toEqual({ managedBy: 'flightdeck-backups' });
        expect(created.action).toMatchObject({ type: 'startWorkflow', workflowType: 'backupDatabase', taskQueue, args: [{ database: 'billing', trigger: { source: 'schedule' } }] });
        // 03:00 plus up to the default 10 minutes of jitter, so databases sharing a cron time do not dump at once.
        expect(created.spec.jitter).toBe(10 * 60_000);
        const next = created.info.nextActionTimes[0]!;
        expect(next.toISOString()).toMatch(/-01-01T03:/);
        expect(next.getUTCMinutes()).toBeLessThan(10);

        // A worker restart with the same config changes nothing.
        expect(await sync({ billing: { schedule: '0 3 1 1 *' }, archive: { schedule: '30 4 1 1 *' } })).toMatchObject({ unchanged: [billingId, archiveId] });

        // 02:00 in Paris on January 1st is 01:00 UTC (plus under 10 minutes of jitter).
        expect(await sync({ billing: { schedule: '0 2 1 1 *', timezone: 'Europe/Paris' }, archive: { schedule: '30 4 1 1 *' } })).toMatchObject({ updated: [billingId], unchanged: [archiveId] });
        expect((await client.schedule.getHandle(billingId).describe()).info.nextActionTimes[0]?.toISOString()).toMatch(/-01-01T01:0\d:/);

        await client.schedule.getHandle(billingId).trigger();
        const workflowId = await waitFor(async () =>
          (await client.schedule.getHandle(billingId).describe()).info.recentActions[0]?.action.workflow.workflowId, 'the triggered run');
        expect(workflowId.startsWith(billingId)).toBe(true);
        const result = await client.workflow.getHandle(workflowId).result() as BackupResult;
        expect(result).toMatchObject({ isVerified: true, releaseVersion: 'unknown' });
        expect(result.backupId).toMatch(/^billing-/);

        // Removal is found by listing, which is eventually consistent: wait until the schedule is listed.
        await waitFor(async () => {
          for await (const schedule of client.schedule.list()) if (schedule.scheduleId === archiveId) return true;
          return undefined;
        }, 'the archive schedule to be listed');
        expect(await sync({ billing: { schedule: '0 2 1 1 *', timezone: 'Europe/Paris' } })).toMatchObject({ deleted: [archiveId], unchanged: [billingId] });
        await expect(client.schedule.getHandle(archiveId).describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
      });
    } finally {
      for (const scheduleId of [billingId, archiveId]) await client.schedule.getHandle(scheduleId).delete().catch(() => undefined);
    }
  });

  it('starts a backup on demand, once per request however often it is asked', async () => {
    configWith({ billing: { schedule: '0 3 1 1 *' } });
    const trigger = { source: 'slack' as const, actor: 'carol', deliveryId: harness.kit.uniqueId('slack-action') };
    const result = await harness.kit.withWorker(harness.activities(), async (taskQueue) => {
      const first = await requestBackup(harness.kit.client, taskQueue, { database: 'billing', trigger });
      const repeated = await requestBackup(harness.kit.client, taskQueue, { database: 'billing', trigger });
      expect(repeated).toBe(first);
      const handle = harness.kit.client.workflow.getHandle(first);
      expect((await handle.describe()).runId).toBe((await harness.kit.client.workflow.getHandle(repeated).describe()).runId);
      return await handle.result() as BackupResult;
    });
    expect(result.isVerified).toBe(true);
  });
});
