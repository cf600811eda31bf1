// Past and current runs, read from Temporal's visibility store: no database of our own. Every run is
// started with Flightdeck's search attributes (lib/runSearchAttributes.ts: kind, app, environment or
// database, and the state the run upserts), so a listing is one exact query of `limit` runs.
//
// Runs started before the attributes existed have none (FlightdeckKind IS NULL): a listing finds them as it
// did before, by workflow type and id prefix, and reads their app, environment or database from the id,
// which every starter derives from the request. That clause matches nothing once those runs are past the
// namespace's retention; it stays cheap meanwhile (the prefix narrows it on the server).
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
import type { RunKind, RunState } from './messages.js';
import { kindOfWorkflowType, RUN_APP, RUN_DATABASE, RUN_ENVIRONMENT, RUN_KIND, RUN_STATE, WORKFLOW_TYPE_OF_KIND } from './runSearchAttributes.js';

export { WORKFLOW_TYPE_OF_KIND } from './runSearchAttributes.js';

export interface RunFilter {
  app?: string;
  environment?: string;
  kind?: RunKind;
  database?: string;
  /** Only runs in this state (FlightdeckState; runs started before the attributes existed have none). */
  state?: RunState;
  /** Only runs Temporal still has open. */
  isRunning?: boolean;
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
  /** The run's own state (FlightdeckState), for runs started with the search attributes. */
  state?: RunState;
  /** Flightdeck's verdict on the release a deploy or rollback ran (lib/releaseLedger.ts), when it reached the ledger. */
  verdict?: string;
  startedAt: string;
  closedAt?: string;
}

export const DEFAULT_RUN_LIMIT = 20;
/**
 * Temporal's SQL visibility (the dev server's SQLite, the server's PostgreSQL) answers open runs first,
 * newest start first, then closed runs, latest close first: the first `limit` matches are the newest,
 * so a listing reads one page of `limit` runs. Only runs without attributes can be dropped by the exact
 * filter below (an id prefix such as backup/orders also matches backup/orders-eu…): a bound on those.
 */
const MAX_SCANNED_RUNS = 5000;
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
  const attributes = execution.typedSearchAttributes;
  const taggedKind = attributes.get(RUN_KIND) as RunKind | undefined;
  const kind = taggedKind ?? kindOfWorkflowType(execution.type);
  if (!kind) return undefined;
  const about = taggedKind
    ? { app: attributes.get(RUN_APP), environment: attributes.get(RUN_ENVIRONMENT), database: attributes.get(RUN_DATABASE) }
    : parseRunId(execution.workflowId, kind);
  const state = attributes.get(RUN_STATE) as RunState | undefined;
  return {
    workflowId: execution.workflowId,
    runId: execution.runId,
    kind,
    ...withoutUndefined(about),
    status: execution.status.name,
    ...(state ? { state } : {}),
    startedAt: execution.startTime.toISOString(),
    ...(execution.closeTime ? { closedAt: execution.closeTime.toISOString() } : {}),
  };
}

function matches(run: RunSummary, filter: RunFilter): boolean {
  if (filter.app !== undefined && run.app !== filter.app) return false;
  if (filter.environment !== undefined && run.environment !== filter.environment) return false;
  if (filter.database !== undefined && run.database !== filter.database) return false;
  if (filter.state !== undefined && run.state !== filter.state) return false;
  return true;
}

/** App-level runs have no database in their id and database runs no app: some filters exclude a kind. */
function isKindPossible(kind: RunKind, filter: RunFilter): boolean {
  const isDatabaseKind = kind === 'backup' || kind === 'restore';
  if (isDatabaseKind) return filter.app === undefined && filter.environment === undefined;
  return filter.database === undefined;
}

/**
 * Runs with attributes, matched exactly on the server; or runs without (started before they existed),
 * narrowed by type and id prefix, which matches() makes exact.
 */
function visibilityQuery(kinds: RunKind[], filter: RunFilter): string {
  const running = filter.isRunning ? ' AND ExecutionStatus = "Running"' : '';
  const tagged = `${RUN_KIND.name} IN (${kinds.map(quote).join(', ')})${attributeClauses(filter)}${running}`;
  if (filter.state !== undefined) return tagged;
  return `(${tagged}) OR (${RUN_KIND.name} IS NULL AND (${idPrefixQuery(kinds, filter)})${running})`;
}

function attributeClauses(filter: RunFilter): string {
  const equal: Array<[string, string | undefined]> = [
    [RUN_APP.name, filter.app], [RUN_ENVIRONMENT.name, filter.environment], [RUN_DATABASE.name, filter.database], [RUN_STATE.name, filter.state],
  ];
  return equal.filter(([, value]) => value !== undefined).map(([name, value]) => ` AND ${name} = ${quote(value!)}`).join('');
}

function idPrefixQuery(kinds: RunKind[], filter: RunFilter): string {
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
