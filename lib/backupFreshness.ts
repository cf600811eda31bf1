// The freshness alarm's rule, in one place for the watch (workflows/watchBackupFreshness.ts and its
// activity), the CLI and the API's /metrics: a database is overdue when its newest VERIFIED backup is
// older than staleAfter. Unverified and failed backups never count: backups that run every night but
// never restore are as bad as none. The watch reads the catalog, not the schedule, so a worker that
// was down at schedule time, a paused schedule and failed verifications all show up the same way.
// Pure (workflow-safe); the threshold's derivation from the cron is in backupFreshnessThreshold.ts.
import { formatAge } from './units.js';

/** The memo of the watch workflow that the API reads for /metrics (no worker needed to read it). */
export const FRESHNESS_MEMO = 'flightdeckBackupFreshness';
export const FRESHNESS_WATCH_PREFIX = 'backup-watch/';

export function freshnessWatchId(database: string, idPrefix = FRESHNESS_WATCH_PREFIX): string {
  return `${idPrefix}${database}`;
}

export interface BackupAttempt {
  backupId: string;
  createdAt: string;
  status: string;
}

export interface BackupFreshness {
  database: string;
  staleAfterMs: number;
  /** The newest verified backup: its snapshot time is how old the data a restore brings back is. */
  lastVerified?: BackupAttempt;
  /** The newest backup whatever its status (a failed verification shows here). */
  newest?: BackupAttempt;
  /** Since the newest verified backup, or since watching began when there is none; absent: neither is known. */
  ageMs?: number;
  isStale: boolean;
}

/**
 * How fresh the backups are. `since` stands in for a verified backup when there is none yet (the
 * watch's start): a database just added to the config is not overdue at once.
 */
export function assessFreshness(input: { database: string; backups: BackupAttempt[]; staleAfterMs: number; now: Date; since?: string }): BackupFreshness {
  const newestFirst = [...input.backups].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  const lastVerified = newestFirst.find((backup) => backup.status === 'verified');
  const reference = lastVerified?.createdAt ?? input.since;
  const ageMs = reference === undefined ? undefined : Math.max(0, input.now.getTime() - Date.parse(reference));
  return {
    database: input.database,
    staleAfterMs: input.staleAfterMs,
    ...(lastVerified ? { lastVerified } : {}),
    ...(newestFirst[0] ? { newest: newestFirst[0] } : {}),
    ...(ageMs === undefined ? {} : { ageMs }),
    isStale: ageMs === undefined || ageMs > input.staleAfterMs,
  };
}

/** One line for people: the CLI prints it, the Slack alarm carries it. Pure (workflow-safe). */
export function describeFreshness(freshness: BackupFreshness): string {
  const age = formatAge(freshness.ageMs ?? 0);
  const verified = freshness.lastVerified
    ? `the newest verified backup, ${freshness.lastVerified.backupId}, is ${age} old`
    : freshness.ageMs === undefined ? 'no verified backup' : `no verified backup in the ${age} since watching began`;
  const newest = freshness.newest && freshness.newest.backupId !== freshness.lastVerified?.backupId
    ? `; the newest attempt, ${freshness.newest.backupId}, is ${freshness.newest.status}`
    : '';
  return `${freshness.isStale ? 'OVERDUE' : 'fresh'}: ${verified} (alarm after ${formatAge(freshness.staleAfterMs)})${newest}`;
}
