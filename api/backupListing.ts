// Backups as the API and Slack list them: through the worker (workflows/listBackups.ts), so the API
// process needs no storage credentials. Only a type comes from activities/, never the storage code.
import { randomUUID } from 'node:crypto';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { TimeoutFailure } from '@temporalio/common';
import type { BackupSummary } from '../activities/backup/backupList.js';
import { rootMessage } from '../lib/errors.js';
import { serviceUnavailable } from './httpErrors.js';

/** How long a listing may wait for a worker before the caller is told none answered. */
const LISTING_TIMEOUT = '20s';

export type { BackupSummary };

/** Newest first. Throws a 503 HttpError when no worker answers in time. */
export async function listBackupsThroughWorker(client: Client, taskQueue: string, database: string): Promise<BackupSummary[]> {
  try {
    return await client.workflow.execute('listBackups', {
      workflowId: `backups/${database}/list-${randomUUID().slice(0, 8)}`, taskQueue, args: [{ database }], workflowExecutionTimeout: LISTING_TIMEOUT,
    });
  } catch (err) {
    if (err instanceof WorkflowFailedError && err.cause instanceof TimeoutFailure) {
      throw serviceUnavailable(`no worker listed the backups of ${database} within ${LISTING_TIMEOUT}: is a worker running on ${taskQueue}?`);
    }
    if (err instanceof WorkflowFailedError) throw new Error(`listing the backups of ${database} failed: ${rootMessage(err)}`);
    throw err;
  }
}
