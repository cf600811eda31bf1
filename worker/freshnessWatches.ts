// One freshness watch per configured database (workflows/watchBackupFreshness.ts), started by the
// worker beside the backup schedules. Starting is idempotent: a watch already running is kept (with
// its alarm state); one that ended (its database left the config, then came back) starts anew. A watch
// whose database left the config stops by itself at its next check.
import type { Client } from '@temporalio/client';
import { freshnessWatchId } from '../lib/backupFreshness.js';
import type { AppsConfig } from '../lib/config.js';
import type { BackupFreshnessWatch } from '../lib/messages.js';

export interface FreshnessWatchOptions {
  /** Prefix of the watch workflow ids (tests use their own). */
  idPrefix?: string;
}

/** The ids of the watches now running, one per configured database. */
export async function startFreshnessWatches(client: Client, config: AppsConfig, taskQueue: string, options: FreshnessWatchOptions = {}): Promise<string[]> {
  const started: string[] = [];
  for (const database of Object.keys(config.databases)) {
    const workflowId = freshnessWatchId(database, options.idPrefix);
    const watch: BackupFreshnessWatch = { database };
    await client.workflow.start('watchBackupFreshness', { workflowId, taskQueue, args: [watch], workflowIdConflictPolicy: 'USE_EXISTING' });
    started.push(workflowId);
  }
  return started;
}
