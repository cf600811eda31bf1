// The freshness alarm of one database: a long-lived watch (id backup-watch/<database>, started by the
// worker) that reads the backup catalog every checkEvery and tells the channel once when the newest
// VERIFIED backup is older than its threshold, and once again when a verified backup makes it fresh.
// It looks at what was stored, not at the schedule: a worker down at 02:00, a paused schedule and
// backups that fail verification all end in the same overdue catalog. Its memo carries the newest
// verified backup's time for the API's /metrics, readable even when no worker runs.
import { continueAsNew, isCancellation, proxyActivities, sleep, upsertMemo, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { FreshnessCheck } from '../activities/backup/freshness.js';
import { FRESHNESS_MEMO, type BackupFreshness } from '../lib/backupFreshness.js';
import type { BackupFreshnessWatch } from '../lib/messages.js';
import { watchForNewerCode } from './entityUpgrade.js';

const catalog = proxyActivities<Activities>({ startToCloseTimeout: '5m', retry: { initialInterval: '5s', maximumInterval: '1m', maximumAttempts: 3 } });
const slack = proxyActivities<Activities>({ startToCloseTimeout: '15s', retry: { initialInterval: '2s', maximumAttempts: 5 } });

/** Between two reads when the catalog could not be read (and before the first read told the interval). */
const DEFAULT_CHECK_EVERY_MS = 15 * 60_000;
/** A run's history stays short: its state moves on to a new run. */
const CHECKS_PER_RUN = 200;
/** Bump when a change should reach running watches (docs/operations.md, "Patches in force"). */
export const FRESHNESS_WATCH_CODE = 'backup-watch-code-v1';

export async function watchBackupFreshness(watch: BackupFreshnessWatch): Promise<string> {
  const isOnOlderCode = watchForNewerCode(FRESHNESS_WATCH_CODE);
  const watchingSince = watch.watchingSince ?? new Date(workflowInfo().startTime).toISOString();
  let isAlerting = watch.isAlerting === true;
  let checkEveryMs = DEFAULT_CHECK_EVERY_MS;
  // Between two checks is the safe point: the state is all in the arguments of the next run.
  for (let count = 0; count < CHECKS_PER_RUN && !workflowInfo().continueAsNewSuggested && !isOnOlderCode(); count++) {
    const check = await readCatalog(watch.database, watchingSince);
    if (check && !check.isConfigured) return `${watch.database} is no longer in the config: stopped watching`;
    if (check) {
      checkEveryMs = check.checkEveryMs;
      publish(check.freshness);
      if (check.freshness.isStale !== isAlerting) isAlerting = await announce(watch.database, check, isAlerting);
    }
    await sleep(checkEveryMs);
  }
  return continueAsNew<typeof watchBackupFreshness>({ database: watch.database, watchingSince, isAlerting });
}

/** A catalog that cannot be read this time is read again at the next check (the activity logs why). */
async function readCatalog(database: string, watchingSince: string): Promise<FreshnessCheck | undefined> {
  try {
    return await catalog.checkBackupFreshness({ database, watchingSince });
  } catch (err) {
    if (isCancellation(err)) throw err;
    return undefined;
  }
}

function publish(freshness: BackupFreshness): void {
  upsertMemo({
    [FRESHNESS_MEMO]: {
      lastVerifiedAt: freshness.lastVerified?.createdAt ?? null, lastVerifiedBackupId: freshness.lastVerified?.backupId ?? null,
      isStale: freshness.isStale, staleAfterMs: freshness.staleAfterMs,
    },
  });
}

/**
 * Posts the alarm (with @here) or the all-clear, and returns the state the channel now knows. A post
 * that fails is tried again at the next check, so the alarm is never lost to a Slack outage.
 */
async function announce(database: string, check: Extract<FreshnessCheck, { isConfigured: true }>, wasAlerting: boolean): Promise<boolean> {
  const text = check.freshness.isStale
    ? `Backups of *${database}* are OVERDUE: ${check.summary}. Check the schedule (flightdeck schedules), the worker, and the last backup runs (flightdeck backups ${database}).`
    : `Backups of *${database}* are fresh again: ${check.summary}.`;
  try {
    await slack.postThreadReply({ channel: check.slackChannel, text, isAlert: check.freshness.isStale });
    return check.freshness.isStale;
  } catch (err) {
    if (isCancellation(err)) throw err;
    return wasAlerting;
  }
}
