import { ScheduleNotFoundError, type Client } from '@temporalio/client';
import type { AppsConfig } from '../../lib/config.js';
import { backupScheduleId } from '../../worker/schedules.js';
import type { Command } from '../command.js';
import { formatTable, formatTime } from '../format.js';
import { ExitCode } from '../usageError.js';
import { expectArguments } from '../validation.js';

interface BackupScheduleView {
  database: string;
  scheduleId: string;
  cron: string;
  timezone: string;
  isInstalled: boolean;
  isPaused?: boolean;
  nextRuns: string[];
  lastRunAt?: string;
  lastRunId?: string;
}

export const schedulesCommand: Command = {
  name: 'schedules',
  summary: 'the nightly backup schedules: cron, next runs, last run, paused or not',
  usage: 'flightdeck schedules [--json]',
  details: `Lists one backup schedule per configured database, as the worker installs them from the config
file, with the next run times Temporal computed and the last run started.
A database whose schedule is "not installed" gets one when the worker next starts.`,
  prepare({ positionals, config }) {
    expectArguments(positionals, 'schedules', 0, 0);
    return async ({ client, out }) => {
      const schedules = await describeBackupSchedules(client, config);
      if (schedules.length === 0) out.line('no databases are configured, so there are no backup schedules');
      else {
        out.line(formatTable(['DATABASE', 'CRON', 'TIMEZONE', 'STATE', 'NEXT RUN', 'LAST RUN'], schedules.map((s) => [
          s.database, s.cron, s.timezone,
          !s.isInstalled ? 'not installed' : s.isPaused ? 'paused' : 'active',
          formatTime(s.nextRuns[0]),
          s.lastRunAt ? `${formatTime(s.lastRunAt)} ${s.lastRunId}` : '-',
        ])));
      }
      out.result({ schedules });
      return ExitCode.ok;
    };
  },
};

async function describeBackupSchedules(client: Client, config: AppsConfig): Promise<BackupScheduleView[]> {
  const views: BackupScheduleView[] = [];
  for (const [database, dbConfig] of Object.entries(config.databases)) {
    const scheduleId = backupScheduleId(database);
    const view: BackupScheduleView = { database, scheduleId, cron: dbConfig.schedule, timezone: dbConfig.timezone, isInstalled: false, nextRuns: [] };
    try {
      const description = await client.schedule.getHandle(scheduleId).describe();
      const lastAction = description.info.recentActions.at(-1);
      Object.assign(view, {
        isInstalled: true,
        isPaused: description.state.paused,
        nextRuns: description.info.nextActionTimes.slice(0, 3).map((time) => time.toISOString()),
        ...(lastAction ? { lastRunAt: lastAction.takenAt.toISOString(), lastRunId: lastAction.action.workflow.workflowId } : {}),
      });
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
    }
    views.push(view);
  }
  return views;
}
