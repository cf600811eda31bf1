// A database's backups, read by the worker for the API and Slack: the storage's credentials stay in
// the worker (docs/security.md). One activity, no state; the caller waits for the result.
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { BackupSummary } from '../activities/backup/backupList.js';

const { listDatabaseBackups } = proxyActivities<Activities>({ startToCloseTimeout: '1m', retry: { maximumAttempts: 3 } });

export async function listBackups(request: { database: string }): Promise<BackupSummary[]> {
  return listDatabaseBackups(request);
}
