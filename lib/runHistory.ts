// Past and current runs, read from Temporal's visibility store: no database of our own. A run's kind
// is its workflow type; its app, environment or database come from its workflow id, which every
// starter derives from the request:
//   deploy    deploy/<app>/<env>/<sha|image>-<n>             (deployQueue)
//   rollback  rollback/<app>/<env>/<n>                       (requestRollback)
//             deploy/<app>/<env>/<n>/rollback                (a pipeline's automatic rollback)
//   migrate   migrate/<app>/<env|->/<action>-<n>             (requestMigration)
//             deploy/<app>/<env>/<n>/migrate                 (a pipeline's migration)
//   backup    backup/<db>/on-demand/<delivery>               (requestBackup)
//             backup/<db>-<scheduled time>                   (the nightly schedule)
//             restore/<db>/<n>/safety-backup                 (a restore's safety backup)
//   restore   restore/<db>/<backupId>-<n>                    (requestRestore)
//   incident  incident/<app>/<env>                           (requestIncidentRunbook: one at a time per environment)
//             incident/<app>/<env>/rollback                  (its rollback: a rollback run)
//   scale     scale/<app>/<env>/<stop|start|scale>-<n>       (requestScale)
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import type { RunKind } from './messages.js';

export interface RunFilter {
  app?: string;
  environment?: string;
  kind?: RunKind;
  database?: string;
  /** Newest first, this many at most; default 20. */
  limit?: number;
}

export interface RunSummary {
  workflowId: string;
  runId: string;
  kind: RunKind;
  app?: string;
  environment?: string;
  database?: string;
  /** Temporal's execution status: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT, CONTINUED_AS_NEW. */
  status: string;
  /** Flightdeck's verdict on the release a deploy or rollback ran (lib/releaseLedger.ts), when it reached the ledger. */
  verdict?: string;
  startedAt: string;
  closedAt?: string;
}

export const DEFAULT_RUN_LIMIT = 20;
/**
 * Temporal's SQL visibility (the dev server's SQLite, the server's PostgreSQL) answers open runs first,
 * newest start first, then closed runs, latest close first: the first `limit` matches are the newest,
 * so a listing reads one page of `limit` runs (a few more when some fall to the exact filter below).
 */
const MAX_SCANNED_RUNS = 5000;

export const WORKFLOW_TYPE_OF_KIND: Record<RunKind, string> = {
  deploy: 'deployPipeline',
  rollback: 'rollback',
  migrate: 'migrateDatabase',
  backup: 'backupDatabase',
  restore: 'restoreDatabase',
  incident: 'incidentRunbook',
  scale: 'scaleApp',
};
const KIND_OF_WORKFLOW_TYPE = new Map(Object.entries(WORKFLOW_TYPE_OF_KIND).map(([kind, type]) => [type, kind as RunKind]));
const ALL_KINDS = Object.keys(WORKFLOW_TYPE_OF_KIND) as RunKind[];

/** Runs matching every given filter, newest first. */
export async function listRuns(client: Client, filter: RunFilter = {}): Promise<RunSummary[]> {
  const limit = filter.limit ?? DEFAULT_RUN_LIMIT;
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`limit must be a positive whole number, got ${limit}`);
  const kinds = (filter.kind ? [filter.kind] : ALL_KINDS).filter((kind) => isKindPossible(kind, filter));
  if (kinds.length === 0) return [];
  const runs: RunSummary[] = [];
  let scanned = 0;
  for await (const execution of client.workflow.list({ query: visibilityQuery(kinds, filter), pageSize: Math.min(limit, 1000) })) {
    if (++scanned > MAX_SCANNED_RUNS) break;
    const run = summarize(execution);
    if (run && matches(run, filter)) runs.push(run);
    if (runs.length >= limit) break;
  }
  runs.sort((a, b) => b.startedAt.localeCompare(a.startedAt) || b.workflowId.localeCompare(a.workflowId));
  return runs.slice(0, limit);
}

/** The kind, app, environment and database a workflow id names (see the table at the top). */
export function parseRunId(workflowId: string, kind: RunKind): Pick<RunSummary, 'app' | 'environment' | 'database'> {
  const parts = workflowId.split('/');
  const [root, first, second] = parts;
  if (root === 'deploy' || root === 'rollback' || root === 'migrate' || root === 'incident' || root === 'scale') {
    return { app: first, environment: second === '-' ? undefined : second };
  }
  if (root === 'restore') return { database: first };
  if (root === 'backup' && kind === 'backup') {
    // A scheduled run's id is the schedule id with the scheduled time appended: backup/<db>-2026-11-22T02:00:00Z.
    const scheduled = /^(.+)-\d{4}-\d{2}-\d{2}T[\d:.]+Z$/.exec(first ?? '');
    return { database: parts.length > 2 ? first : scheduled?.[1] ?? first };
  }
  return {};
}

function summarize(execution: WorkflowExecutionInfo): RunSummary | undefined {
  const kind = KIND_OF_WORKFLOW_TYPE.get(execution.type);
  if (!kind) return undefined;
  return {
    workflowId: execution.workflowId,
    runId: execution.runId,
    kind,
    ...withoutUndefined(parseRunId(execution.workflowId, kind)),
    status: execution.status.name,
    startedAt: execution.startTime.toISOString(),
    ...(execution.closeTime ? { closedAt: execution.closeTime.toISOString() } : {}),
  };
}

function matches(run: RunSummary, filter: RunFilter): boolean {
  if (filter.app !== undefined && run.app !== filter.app) return false;
  if (filter.environment !== undefined && run.environment !== filter.environment) return false;
  if (filter.database !== undefined && run.database !== filter.database) return false;
  return true;
}

/** App-level runs have no database in their id and database runs no app: some filters exclude a kind. */
function isKindPossible(kind: RunKind, filter: RunFilter): boolean {
  const isDatabaseKind = kind === 'backup' || kind === 'restore';
  if (isDatabaseKind) return filter.app === undefined && filter.environment === undefined;
  return filter.database === undefined;
}

/** Narrows by type and id prefix on the server; matches() makes the result exact. */
function visibilityQuery(kinds: RunKind[], filter: RunFilter): string {
  return kinds.map((kind) => {
    const prefixes = idPrefixes(kind, filter);
    const typeClause = `WorkflowType = ${quote(WORKFLOW_TYPE_OF_KIND[kind])}`;
    if (prefixes.length === 0) return `(${typeClause})`;
    return `(${typeClause} AND (${prefixes.map((p) => `WorkflowId STARTS_WITH ${quote(p)}`).join(' OR ')}))`;
  }).join(' OR ');
}

function idPrefixes(kind: RunKind, filter: RunFilter): string[] {
  if (kind === 'backup' || kind === 'restore') {
    if (filter.database === undefined) return [];
    // A scheduled backup's id continues with "-<time>" after the name, so the prefix has no slash.
    return kind === 'backup' ? [`backup/${filter.database}`, `restore/${filter.database}/`] : [`restore/${filter.database}/`];
  }
  if (filter.app === undefined) return [];
  const scope = filter.environment === undefined ? `${filter.app}/` : `${filter.app}/${filter.environment}/`;
  if (kind === 'deploy') return [`deploy/${scope}`];
  if (kind === 'incident' || kind === 'scale') return [`${kind}/${scope}`];
  if (kind === 'rollback') return [`rollback/${scope}`, `deploy/${scope}`, `incident/${scope}`];
  return [`${kind}/${scope}`, `deploy/${scope}`];
}

function quote(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
