// The database commands of the flightdeck command line, run as a real subprocess: backup, backups,
// schedules and history on the real Temporal server and PostgreSQL, with a real worker.
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { beforeAll, describe, expect, it } from 'vitest';
import { requestBackup } from '../../lib/databaseOperations.js';
import { statusQuery, type BackupResult } from '../../lib/messages.js';
import { backupScheduleId } from '../../worker/schedules.js';
import { useBackupTestEnvironment, waitFor } from '../backups/helpers/backupTestEnvironment.js';
import { createSampleDatabase, withClient } from '../backups/helpers/sampleDatabase.js';
import { useFlightdeckCli, type CliResult } from './runFlightdeck.js';

const harness = useBackupTestEnvironment();
const SECRET = 'CLI_DATABASE_URL';
const database = `clidb${process.pid}`;
const unscheduled = `${database}-archive`;
const rawConfig = () => ({
  storage: { type: 'local', dir: harness.storageDir },
  databases: { [database]: { secret: SECRET, schedule: '0 3 1 1 *' }, [unscheduled]: { secret: SECRET } },
});
const cli = useFlightdeckCli(rawConfig);

let databaseUrl = '';

beforeAll(async () => {
  databaseUrl = await createSampleDatabase(harness.serverUrl, 'cli');
  harness.setSecret(SECRET, databaseUrl);
  harness.setConfig(rawConfig());
});

/**
 * Runs the command line while a worker serves its task queue, and keeps the worker until the run the
 * command followed has closed, as a deployed worker would: the command returns at the run's final
 * state, while the run may still be bringing Slack's message up to date (its last flush).
 */
async function flightdeck(args: string[]): Promise<CliResult> {
  return harness.kit.withWorker(harness.activities(), async (taskQueue) => {
    const result = await cli.run(args, { taskQueue });
    const workflowId = /: ((?:backup|restore)\/\S+)$/m.exec(result.stdout)?.[1];
    if (workflowId) await harness.kit.client.workflow.getHandle(workflowId).result();
    return result;
  });
}

describe('flightdeck database commands', { timeout: 180_000 }, () => {
  it('backs up a database, following each stage, then lists the verified backup and the run', async () => {
    const backup = await flightdeck(['backup', database, '--actor', 'dana']);
    expect(backup.stderr).toBe('');
    expect(backup.exitCode).toBe(0);
    const lines = backup.stdout.trim().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^backup ${database}: backup/${database}/on-demand/\\w+`));
    for (const stage of ['dump', 'verify', 'record', 'prune']) expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^✓ ${stage} {2}succeeded {2}\\d`)));
    expect(lines.at(-1)).toMatch(new RegExp(`^backup ${database} succeeded in \\d`));

    // The catalog is read from storage: no Temporal needed.
    const listed = await cli.run(['backups', database, '--json'], { temporalAddress: '127.0.0.1:1' });
    expect(listed.exitCode).toBe(0);
    const { backups } = JSON.parse(listed.stdout) as { backups: Array<{ backupId: string; status: string; trigger: { actor: string } }> };
    expect(backups).toHaveLength(1);
    expect(backups[0]).toMatchObject({ status: 'verified', trigger: { actor: 'dana' } });
    const table = await cli.run(['backups', database], { temporalAddress: '127.0.0.1:1' });
    expect(table.stdout).toMatch(new RegExp(`${backups[0]!.backupId}\\s+verified\\s+[\\d.]+ (KiB|MiB)`));

    // Visibility is eventually consistent: the finished run shows up shortly after it closes (bounded: never a silent hang).
    let history: CliResult | undefined;
    await waitFor(async () => {
      history = await cli.run(['history', '--db', database, '--kind', 'backup'], {});
      return history.stdout.includes('completed') ? true : undefined;
    }, 'the finished backup in flightdeck history', 60_000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; last answer: ${JSON.stringify(history)}`);
    });
    expect(history!.stdout).toMatch(new RegExp(`backup\\s+${database}\\s+completed\\s+.*backup/${database}/on-demand/`));
  });

  it('follows a backup that is terminated mid-dump to its end: the command returns, says how it ended, and fails', async () => {
    const result = await withClient(databaseUrl, async (locker) => {
      // pg_dump waits for this lock: the run is under way, its status saying "dump running", when it is terminated.
      await locker.query('begin');
      await locker.query('lock table pgbench_accounts in access exclusive mode');
      return harness.kit.withWorker(harness.activities(), async (taskQueue) => {
        const following = cli.run(['backup', database, '--actor', 'dana'], { taskQueue });
        const workflowId = await waitFor(async () => {
          for await (const run of harness.kit.client.workflow.list({ query: `WorkflowId STARTS_WITH 'backup/${database}/on-demand/' AND ExecutionStatus = 'Running'` })) return run.workflowId;
          return undefined;
        }, 'the backup run to start');
        await waitFor(async () => ((await harness.kit.client.workflow.getHandle(workflowId).query(statusQuery)).currentStage === 'dump' ? true : undefined), 'the dump stage');
        await harness.kit.client.workflow.getHandle(workflowId).terminate('stopped by an operator');
        await locker.query('rollback');
        return following;
      });
    });
    expect(result.exitCode).toBe(1);
    expect(result.stdout.trim().split('\n').at(-1)).toMatch(new RegExp(`^backup ${database} failed in [\\d.]+ ?\\w+: the run ended TERMINATED during dump without reporting an outcome; see its history in Temporal$`));
  });

  it('lists backup schedules with their next run, and says which are not installed', async () => {
    const scheduleId = backupScheduleId(database);
    // Created by hand (paused, without the worker's ownership tag) so no concurrent worker's sync removes it.
    await harness.kit.client.schedule.create({
      scheduleId,
      spec: { cronExpressions: ['0 3 1 1 *'] },
      action: { type: 'startWorkflow', workflowType: 'backupDatabase', workflowId: scheduleId, taskQueue: 'no-worker', args: [{ database, trigger: { source: 'schedule', actor: 'schedule' } }] },
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
      state: { paused: true },
    });
    try {
      const result = await cli.run(['schedules'], {});
      expect(result.exitCode).toBe(0);
      const [header, ...rows] = result.stdout.trim().split('\n');
      expect(header).toMatch(/^DATABASE\s+CRON\s+TIMEZONE\s+STATE\s+NEXT RUN\s+LAST RUN$/);
      expect(rows).toContainEqual(expect.stringMatching(new RegExp(`^${database}\\s+0 3 1 1 \\*\\s+UTC\\s+paused\\s+\\d{4}-01-01 03:00:00Z\\s+-$`)));
      expect(rows).toContainEqual(expect.stringMatching(new RegExp(`^${unscheduled}\\s+0 2 \\* \\* \\*\\s+UTC\\s+not installed\\s+-\\s+-$`)));
    } finally {
      await harness.kit.client.schedule.getHandle(scheduleId).delete();
    }
  });

  it('refuses an unknown database with exit code 2 and lists the configured ones', async () => {
    const result = await cli.run(['backup', 'nope'], { temporalAddress: '127.0.0.1:1' });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(`unknown database "nope"; configured databases: ${database}, ${unscheduled}`);
  });

  it('restores a listed backup into a new database, following each stage', async () => {
    const result = await harness.kit.withWorker(harness.activities(), async (taskQueue) => {
      const backupRunId = await requestBackup(harness.kit.client, taskQueue, { database, trigger: { source: 'api', actor: 'dana' } });
      const backup = await harness.kit.client.workflow.getHandle(backupRunId).result() as BackupResult;
      return { backup, restore: await cli.run(['restore', database, backup.backupId], { taskQueue }) };
    });
    expect(result.restore.stderr).toBe('');
    expect(result.restore.exitCode).toBe(0);
    const lines = result.restore.stdout.trim().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^restore ${database}: restore/${database}/${result.backup.backupId}-\\w+$`));
    expect(lines).toContainEqual(expect.stringMatching(/^- approval {2}skipped {2}a new database$/));
    expect(lines).toContainEqual(expect.stringMatching(/^✓ restore {2}succeeded {2}\d.*row counts and schema match the backup$/));
    expect(lines.at(-1)).toMatch(new RegExp(`^restore ${database} succeeded in .*: Restored ${result.backup.backupId} into \\w+; row counts and schema match\\.$`));
  });
});
