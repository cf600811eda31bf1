// Where clients (activities, the API, the CLI, Slack) read and write an environment's release ledger
// (workflows/releaseLedger.ts). Writes start the ledger when it does not exist yet.
import { WithStartWorkflowOperation, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import type { RunSummary } from './runHistory.js';
import { ledgerEntriesQuery, ledgerWorkflowId, recordLedgerEntryUpdate, type LedgerEntry, type LedgerRecord } from './releaseLedger.js';

export interface LedgerAddress {
  app: string;
  environment: string;
}

export async function recordLedgerEntry(client: Client, taskQueue: string, address: LedgerAddress, record: LedgerRecord): Promise<LedgerEntry> {
  const startWorkflowOperation = new WithStartWorkflowOperation<Workflow>('releaseLedger', {
    workflowId: ledgerWorkflowId(address.app, address.environment),
    taskQueue,
    args: [],
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
  return client.workflow.executeUpdateWithStart(recordLedgerEntryUpdate, {
    args: [record],
    startWorkflowOperation,
    // A retried activity sends the same record again: one update id per record makes it count once.
    updateId: `${record.id}/${record.verdict ?? 'fields'}/${record.releaseVersion ?? ''}`,
  });
}

/** Newest first; empty for an environment Flightdeck has never deployed. */
export async function readLedger(client: Client, address: LedgerAddress): Promise<LedgerEntry[]> {
  try {
    return await client.workflow.getHandle(ledgerWorkflowId(address.app, address.environment)).query(ledgerEntriesQuery);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return [];
    throw err;
  }
}

/** A ledger query needs a worker; history still answers (with Temporal's status only) when none is up. */
const VERDICT_QUERY_DEADLINE_MS = 3000;

/**
 * Adds Flightdeck's verdict to deploy and rollback runs (a rolled-back deploy reads `rolled-back`,
 * where Temporal says FAILED), from each environment's ledger, read once per environment.
 */
export async function withLedgerVerdicts(client: Client, runs: RunSummary[]): Promise<RunSummary[]> {
  const ledgers = new Map<string, Promise<Map<string, string>>>();
  const verdictsOf = (app: string, environment: string) => {
    const key = `${app}/${environment}`;
    if (!ledgers.has(key)) {
      const read = client.withDeadline(Date.now() + VERDICT_QUERY_DEADLINE_MS, () => readLedger(client, { app, environment }));
      ledgers.set(key, read.then((entries) => new Map(entries.map((e) => [e.id, e.verdict])), () => new Map()));
    }
    return ledgers.get(key)!;
  };
  return Promise.all(runs.map(async (run) => {
    if ((run.kind !== 'deploy' && run.kind !== 'rollback') || !run.app || !run.environment) return run;
    const verdicts = await verdictsOf(run.app, run.environment);
    // Rollbacks are recorded per run (`<workflow id>@<run id>`): manual ones share a workflow id.
    const verdict = verdicts.get(`${run.workflowId}@${run.runId}`) ?? verdicts.get(run.workflowId);
    return verdict ? { ...run, verdict } : run;
  }));
}
