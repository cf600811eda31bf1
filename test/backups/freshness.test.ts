// The freshness alarm: a watch per database reads the catalog and tells Slack once when the newest
// VERIFIED backup is older than its threshold, and once when it recovers. Real Temporal dev server,
// real workers, real PostgreSQL and pg_dump/pg_restore; thresholds of seconds keep the tests short.
import fs from 'node:fs';
import { Registry } from 'prom-client';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readWatchedFreshness } from '../../api/backupFreshness.js';
import { createApiMetrics, registerBackupFreshnessMetric } from '../../api/metrics.js';
import { FRESHNESS_MEMO } from '../../lib/backupFreshness.js';
import type { AppsConfig } from '../../lib/config.js';
import type { BackupResult } from '../../lib/messages.js';
import { backupDatabase } from '../../workflows/backupDatabase.js';
import { startFreshnessWatches } from '../../worker/freshnessWatches.js';
import { backupScheduleId, syncBackupSchedules } from '../../worker/schedules.js';
import { createDatabase, withAdminClient } from '../helpers/postgres.js';
import { useBackupTestEnvironment, waitFor } from './helpers/backupTestEnvironment.js';

const harness = useBackupTestEnvironment();
const SECRET = 'FRESHNESS_DATABASE_URL';
/** Watches and schedules of this file, ended after each test (a watch runs until its database leaves the config). */
const idPrefix = `${harness.kit.uniqueId('freshness-test')}/`;
const startedWatches: string[] = [];

beforeAll(async () => {
  const url = await createDatabase(harness.serverUrl, 'fresh');
  await withAdminClient(url, (client) => client.query('create table readings (id int primary key, value text); insert into readings select g, md5(g::text) from generate_series(1, 200) g'));
  harness.setSecret(SECRET, url);
});

afterEach(async () => {
  for (const workflowId of startedWatches.splice(0)) await harness.kit.client.workflow.getHandle(workflowId).terminate().catch(() => undefined);
});

/** One database named `database`, with a cron that never fires during the test and a threshold of seconds. */
function configure(database: string, staleAfter: string) {
  return harness.setConfig({ databases: { [database]: { secret: SECRET, schedule: '0 3 1 1 *', freshness: { staleAfter, checkEvery: '200ms' } } } });
}

async function startWatch(config: AppsConfig, taskQueue: string): Promise<string> {
  const [workflowId] = await startFreshnessWatches(harness.kit.client, config, taskQueue, { idPrefix });
  startedWatches.push(workflowId!);
  return workflowId!;
}

function backUp(database: string, taskQueue: string): Promise<BackupResult> {
  return harness.kit.client.workflow.execute(backupDatabase, {
    taskQueue, workflowId: harness.kit.uniqueId(`backup-${database}`), args: [{ database, trigger: { source: 'api', actor: 'freshness-test' } }],
  });
}

interface PublishedFreshness { lastVerifiedBackupId: string | null; isStale: boolean }

/** What the watch last published for /metrics. */
async function memoOf(workflowId: string): Promise<PublishedFreshness | undefined> {
  const description = await harness.kit.client.workflow.getHandle(workflowId).describe();
  return description.memo?.[FRESHNESS_MEMO] as PublishedFreshness | undefined;
}

/** Waits until the watch has read the catalog with this backup as the newest verified one. */
function watchHasSeen(workflowId: string, backupId: string): Promise<PublishedFreshness> {
  return waitFor(async () => {
    const memo = await memoOf(workflowId);
    return memo?.lastVerifiedBackupId === backupId ? memo : undefined;
  }, `the watch to read ${backupId} in the catalog`);
}

const overdueAlarms = (database: string) => harness.slack.messages.filter((m) => m.text.includes(`Backups of *${database}* are OVERDUE`));
const allClears = (database: string) => harness.slack.messages.filter((m) => m.text.includes(`Backups of *${database}* are fresh again`));

describe('backup freshness alarm', () => {
  it('alarms once when backups run but fail verification, and once more when a verified backup recovers', async () => {
    const config = configure('nightly', '6s');
    const activities = harness.activities();
    const corruptingActivities = harness.activities({
      // A byte of the stored dump flips after it was checksummed: the run completes, its verification fails.
      dumpDatabase: async (request) => {
        const dump = await activities.dumpDatabase(request);
        const file = fs.openSync(dump.location, 'r+');
        fs.writeSync(file, Buffer.from([0xff]), 0, 1, Math.floor(dump.sizeBytes / 2));
        fs.closeSync(file);
        return dump;
      },
    });
    const taskQueue = harness.kit.uniqueId('tq-freshness');
    const worker = await harness.kit.createWorker(taskQueue, activities);
    const corruptingWorker = await harness.kit.createWorker(`${taskQueue}-corrupting`, corruptingActivities);
    await worker.runUntil(corruptingWorker.runUntil(async () => {
      const verified = await backUp('nightly', taskQueue);
      expect(verified.isVerified).toBe(true);
      const failed = await backUp('nightly', `${taskQueue}-corrupting`);
      expect(failed.isVerified).toBe(false);
      const watchId = await startWatch(config, taskQueue);
      await watchHasSeen(watchId, verified.backupId);
      const [alarm] = await waitFor(async () => (overdueAlarms('nightly').length ? overdueAlarms('nightly') : undefined), 'the overdue alarm');
      // The newest backup is recent, but it is not verified: the alarm says which one is.
      expect(alarm!.text).toContain('<!here>');
      expect(alarm!.text).toContain(`the newest verified backup, ${verified.backupId}`);
      expect(alarm!.text).toContain(`the newest attempt, ${failed.backupId}, is failed`);
      expect(alarm!.channel).toBe('#backups');

      const recovered = await backUp('nightly', taskQueue);
      const [allClear] = await waitFor(async () => (allClears('nightly').length ? allClears('nightly') : undefined), 'the all-clear');
      expect(allClear!.text).toContain(`fresh: the newest verified backup, ${recovered.backupId}`);
      expect(allClear!.text).not.toContain('<!here>');
      // Checked every 200 ms all along, told once each way.
      expect(overdueAlarms('nightly')).toHaveLength(1);
      expect(allClears('nightly')).toHaveLength(1);

      // /metrics reads the watch's memo: the newest verified backup's snapshot time.
      const metrics = createApiMetrics(new Registry());
      registerBackupFreshnessMetric(metrics, () => readWatchedFreshness(harness.kit.client, ['nightly'], idPrefix));
      const page = await waitFor(async () => {
        const text = await metrics.registry.metrics();
        return text.includes(`database="nightly"} ${Math.floor(Date.parse(recovered.snapshotAt!) / 1000)}`) ? text : undefined;
      }, 'the metric of the recovered backup');
      expect(page).toContain('# TYPE flightdeck_backup_last_verified_timestamp_seconds gauge');
      await harness.expectNoSecretLeaked([watchId]);
    }));
  });

  it('alarms when the backup schedule is paused', async () => {
    const config = configure('paused', '3s');
    const scheduleId = backupScheduleId('paused', idPrefix);
    try {
      await harness.kit.withWorker(harness.activities(), async (taskQueue) => {
        await syncBackupSchedules(harness.kit.client, config, taskQueue, { idPrefix });
        await harness.kit.client.schedule.getHandle(scheduleId).pause('freshness test: an operator paused it and forgot');
        const verified = await backUp('paused', taskQueue);
        const watchId = await startWatch(config, taskQueue);
        const [alarm] = await waitFor(async () => (overdueAlarms('paused').length ? overdueAlarms('paused') : undefined), 'the overdue alarm');
        expect(alarm!.text).toMatch(new RegExp(`OVERDUE: the newest verified backup, ${verified.backupId}, is \\d+ s old \\(alarm after 3 s\\)`));
        expect((await harness.kit.client.schedule.getHandle(scheduleId).describe()).state.paused).toBe(true);
        expect(await memoOf(watchId)).toMatchObject({ isStale: true, lastVerifiedBackupId: verified.backupId });
      });
    } finally {
      await harness.kit.client.schedule.getHandle(scheduleId).delete().catch(() => undefined);
    }
  });

  it('alarms as soon as a worker is back when the backups went stale while no worker ran', async () => {
    const config = configure('outage', '4s');
    const taskQueue = harness.kit.uniqueId('tq-freshness-down');
    const activities = harness.activities();
    const { verified, watchId } = await (await harness.kit.createWorker(taskQueue, activities)).runUntil(async () => {
      const backup = await backUp('outage', taskQueue);
      const id = await startWatch(config, taskQueue);
      await watchHasSeen(id, backup.backupId);
      return { verified: backup, watchId: id };
    });
    // The worker is down while the backup ages past the threshold (the schedule's time passes with nobody to run it).
    await waitFor(async () => (Date.now() - Date.parse(verified.snapshotAt!) > 4_500 ? true : undefined), 'the backup to age past the threshold');
    expect(overdueAlarms('outage')).toHaveLength(0);

    await (await harness.kit.createWorker(taskQueue, activities)).runUntil(async () => {
      const [alarm] = await waitFor(async () => (overdueAlarms('outage').length ? overdueAlarms('outage') : undefined), 'the overdue alarm');
      expect(alarm!.text).toContain(`the newest verified backup, ${verified.backupId}`);
      expect(await memoOf(watchId)).toMatchObject({ isStale: true });
    });
  });
});
