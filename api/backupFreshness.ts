// The freshness of each database's backups as the API sees it: the memo its watch workflow keeps
// (workflows/watchBackupFreshness.ts), read with describe, which needs no worker and no storage
// credentials. Scraped into flightdeck_backup_last_verified_timestamp_seconds.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { FRESHNESS_MEMO, freshnessWatchId } from '../lib/backupFreshness.js';

export interface WatchedFreshness {
  database: string;
  /** The newest verified backup's snapshot time; null when the watch found none. */
  lastVerifiedAt: string | null;
}

/** Databases whose watch has not reported yet (never started, or no worker since) are left out. */
export async function readWatchedFreshness(client: Client, databases: string[], idPrefix?: string): Promise<WatchedFreshness[]> {
  const readings = await Promise.all(databases.map(async (database) => {
    try {
      const description = await client.workflow.getHandle(freshnessWatchId(database, idPrefix)).describe();
      const memo = description.memo?.[FRESHNESS_MEMO] as { lastVerifiedAt?: string | null } | undefined;
      return memo && memo.lastVerifiedAt !== undefined ? { database, lastVerifiedAt: memo.lastVerifiedAt } : undefined;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  }));
  return readings.filter((reading) => reading !== undefined);
}
