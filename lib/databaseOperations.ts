// The database operations people and systems start (backup, restore, migrate): the API, the CLI and
// Slack call these, so a run started from any of them takes the same path. Workflow ids are derived
// from the request; the same delivery id (or idempotency key) finds the run it already started.
import { randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowIdReusePolicy } from '@temporalio/client';
import { ConfigError, type AppsConfig, type DatabaseConfig } from './config.js';
import type { BackupRequest, MigrateRequest, RestoreRequest, Trigger } from './messages.js';
import { runSearchAttributes, WORKFLOW_TYPE_OF_KIND, type RunAttributes } from './runSearchAttributes.js';

/** Starts a backup now, outside the schedule, and returns its workflow id. */
export async function requestBackup(client: Client, taskQueue: string, request: BackupRequest): Promise<string> {
  const workflowId = `backup/${request.database}/on-demand/${requestKey(request.trigger)}`;
  return startOnce(client, { kind: 'backup', database: request.database }, workflowId, taskQueue, request);
}

/** Starts a restore of a catalogued backup and returns its workflow id. */
export async function requestRestore(client: Client, taskQueue: string, request: RestoreRequest): Promise<string> {
  const workflowId = `restore/${request.database}/${safeIdPart(request.backupId)}-${requestKey(request.trigger)}`;
  // A re-delivered restore request finds its run, running or finished: it never restores twice.
  return startOnce(client, { kind: 'restore', database: request.database }, workflowId, taskQueue, request, 'REJECT_DUPLICATE');
}

/** Starts a migration run (status, plan, apply, rollback or force) and returns its workflow id. */
export async function requestMigration(client: Client, taskQueue: string, request: MigrateRequest): Promise<string> {
  const workflowId = `migrate/${request.app}/${request.environment ?? '-'}/${request.action}-${requestKey(request.trigger)}`;
  return startOnce(client, { kind: 'migrate', app: request.app, environment: request.environment }, workflowId, taskQueue, request);
}

async function startOnce(client: Client, run: RunAttributes, workflowId: string, taskQueue: string, request: object,
  workflowIdReusePolicy?: WorkflowIdReusePolicy): Promise<string> {
  // A re-delivered request attaches to the run it started instead of failing or starting another.
  try {
    await client.workflow.start(WORKFLOW_TYPE_OF_KIND[run.kind], {
      workflowId, taskQueue, args: [request], workflowIdConflictPolicy: 'USE_EXISTING', workflowIdReusePolicy,
      typedSearchAttributes: runSearchAttributes(run),
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
  return workflowId;
}

function requestKey(trigger: Trigger): string {
  return trigger.deliveryId ? safeIdPart(trigger.deliveryId) : randomUUID().slice(0, 8);
}

function safeIdPart(value: string): string {
  return value.replace(/[^A-Za-z0-9._-]/g, '_').slice(-80);
}

/** Looks up a configured database, with an error that lists the configured ones. */
export function resolveDatabase(config: AppsConfig, database: string): DatabaseConfig {
  const dbConfig = config.databases[database];
  if (!dbConfig) throw new ConfigError('the request', [`unknown database "${database}"; configured databases: ${Object.keys(config.databases).join(', ') || '(none)'}`]);
  return dbConfig;
}
