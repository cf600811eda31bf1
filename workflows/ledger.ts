// Workflow side of the release ledger: what a run records, and how it reads the entries. Recording
// never stops a run: an entry that could not be written stays `deploying`, which is never a rollback
// target, so a lost write can only make Flightdeck more careful, never send it to a bad image.
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { rootMessage } from '../lib/errors.js';
import type { LedgerEntry, LedgerRecord } from '../lib/releaseLedger.js';
import { localOptions } from './activityOptions.js';
import type { RunTracker } from './runTracker.js';

const ledger = proxyActivities<Activities>(localOptions);

export interface LedgerAddress {
  app: string;
  environment: string;
}

/**
 * Never a local activity: it queries the ledger workflow, which needs a workflow-task slot of its
 * own, and a local activity keeps its caller's workflow task open (slots could run out at scale).
 */
export async function readLedger(address: LedgerAddress): Promise<LedgerEntry[]> {
  return ledger.readReleaseLedger({ app: address.app, environment: address.environment });
}

/**
 * Records (or updates) an entry, by default this run's own; a failure to record is reported on the
 * run, not thrown.
 */
export async function recordInLedger(run: RunTracker, address: LedgerAddress, record: Omit<LedgerRecord, 'id'> & { id?: string }): Promise<void> {
  try {
    await ledger.recordRelease({ app: address.app, environment: address.environment, record: { ...record, id: record.id ?? workflowInfo().workflowId } });
  } catch (err) {
    run.fact('ledger', `not recorded: ${rootMessage(err)}`);
  }
}

/**
 * The `deploying` entry of a rollout that starts, and the fly.toml it is deployed with (the
 * checkout's, read by the activity; else a promotion's), in one activity: recorded as recordInLedger
 * records, and a fly.toml that could not be kept is said on the run.
 */
export async function recordDeployingInLedger(
  run: RunTracker, address: LedgerAddress, record: Omit<LedgerRecord, 'id'>, workspace: string | undefined,
): Promise<void> {
  try {
    const { flyConfigProblem } = await ledger.recordDeploying({
      app: address.app, environment: address.environment, record: { ...record, id: workflowInfo().workflowId }, ...(workspace ? { workspace } : {}),
    });
    if (flyConfigProblem !== undefined) run.fact('fly.toml', `not kept in the ledger: ${flyConfigProblem}`);
  } catch (err) {
    run.fact('ledger', `not recorded: ${rootMessage(err)}`);
  }
}

export function nowIso(): string {
  return new Date().toISOString();
}
