// One Temporal Schedule per configured database, kept in step with the config file: the worker calls
// syncBackupSchedules at start, so adding, changing or removing a database in the config is all it
// takes. Schedules we own carry the `backup/` id prefix and a memo tag; nothing else is touched.
import {
  ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy,
  type Client, type ScheduleOptionsStartWorkflowAction,
} from '@temporalio/client';
import type { AppsConfig, DatabaseConfig } from '../lib/config.js';
import { durationToMs } from '../lib/duration.js';
import type { BackupRequest, BackupResult } from '../lib/messages.js';
import { runSearchAttributes } from '../lib/runSearchAttributes.js';

export const BACKUP_SCHEDULE_PREFIX = 'backup/';
const MANAGED_BY = 'flightdeck-backups';
/** Describes the config a schedule was last written from, in its action's memo. */
const FINGERPRINT_MEMO = 'flightdeckBackupConfig';
/**
 * After an outage (server or workers down at 02:00), a missed night still runs if the service is
 * back within this window; later than that, the next night's run is sooner than a late catch-up.
 */
const CATCHUP_WINDOW = '6h';

export interface BackupScheduleOptions {
  /** Prefix of the schedule ids this sync owns (tests use their own). */
  idPrefix?: string;
}

export interface BackupScheduleSync {
  created: string[];
  updated: string[];
  unchanged: string[];
  deleted: string[];
}

export function backupScheduleId(database: string, idPrefix = BACKUP_SCHEDULE_PREFIX): string {
  return `${idPrefix}${database}`;
}

/** Creates, updates and deletes backup schedules until they match config.databases. Idempotent. */
export async function syncBackupSchedules(client: Client, config: AppsConfig, taskQueue: string, options: BackupScheduleOptions = {}): Promise<BackupScheduleSync> {
  const idPrefix = options.idPrefix ?? BACKUP_SCHEDULE_PREFIX;
  const result: BackupScheduleSync = { created: [], updated: [], unchanged: [], deleted: [] };
  const wanted = new Set<string>();
  for (const [database, dbConfig] of Object.entries(config.databases)) {
    const scheduleId = backupScheduleId(database, idPrefix);
    wanted.add(scheduleId);
    result[await upsertSchedule(client, scheduleId, database, dbConfig, taskQueue)].push(scheduleId);
  }
  for await (const schedule of client.schedule.list()) {
    const isOurs = schedule.scheduleId.startsWith(idPrefix) && schedule.memo?.managedBy === MANAGED_BY;
    if (!isOurs || wanted.has(schedule.scheduleId)) continue;
    try {
      await client.schedule.getHandle(schedule.scheduleId).delete();
      result.deleted.push(schedule.scheduleId);
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
    }
  }
  return result;
}

async function upsertSchedule(client: Client, scheduleId: string, database: string, dbConfig: DatabaseConfig, taskQueue: string): Promise<'created' | 'updated' | 'unchanged'> {
  const fingerprint = JSON.stringify({ cron: dbConfig.schedule, timezone: dbConfig.timezone, jitter: dbConfig.scheduleJitter, taskQueue, catchupWindow: CATCHUP_WINDOW, version: 3 });
  // Jitter: databases that share a cron time (most keep the default 02:00) do not all dump at once.
  const spec = { cronExpressions: [dbConfig.schedule], timezone: dbConfig.timezone, jitter: durationToMs(dbConfig.scheduleJitter) };
  const action: ScheduleOptionsStartWorkflowAction<(r: BackupRequest) => Promise<BackupResult>> = {
    type: 'startWorkflow',
    workflowType: 'backupDatabase',
    // The server appends the scheduled time, so each night's run has its own id.
    workflowId: scheduleId,
    taskQueue,
    args: [{ database, trigger: { source: 'schedule', actor: 'schedule' } }],
    typedSearchAttributes: runSearchAttributes({ kind: 'backup', database }),
    memo: { [FINGERPRINT_MEMO]: fingerprint },
  };
  // Never two backups of one database at once; a night missed by a short outage is caught up.
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: CATCHUP_WINDOW, pauseOnFailure: false };
  try {
    await client.schedule.create({
      scheduleId, spec, action, policies,
      memo: { managedBy: MANAGED_BY },
      state: { note: `Verified backups of ${database}, managed by Flightdeck from its config file` },
    });
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  const handle = client.schedule.getHandle(scheduleId);
  const current = await handle.describe();
  const currentFingerprint = current.action.type === 'startWorkflow' ? current.action.memo?.[FINGERPRINT_MEMO] : undefined;
  if (currentFingerprint === fingerprint) return 'unchanged';
  // A pause set by an operator (state) survives a config change.
  await handle.update((previous) => ({ spec, action, policies, state: { paused: previous.state.paused, note: previous.state.note } }));
  return 'updated';
}
