// One release ledger per app and environment (lib/releaseLedger.ts has the rules). It lives as long as
// the environment: it never finishes, so Temporal's retention never deletes it, and it continues as
// new when its history grows, carrying the entries. Runs write to it through update-with-start.
import { allHandlersFinished, condition, continueAsNew, setHandler, workflowInfo } from '@temporalio/workflow';
import {
  applyLedgerRecord, ledgerEntriesQuery, recordLedgerEntryUpdate, validateLedgerRecord, type LedgerEntry,
} from '../lib/releaseLedger.js';

/** Enough for months of deploys; the rollback target is always among the newest few. */
const MAX_ENTRIES = 300;
const CONTINUE_AS_NEW_AFTER = '1 day';

export interface ReleaseLedgerState {
  entries: LedgerEntry[];
}

export async function releaseLedger(state: ReleaseLedgerState = { entries: [] }): Promise<void> {
  let entries = state.entries;

  setHandler(ledgerEntriesQuery, () => entries);
  setHandler(recordLedgerEntryUpdate, (record) => {
    const applied = applyLedgerRecord(entries, record, MAX_ENTRIES);
    entries = applied.entries;
    return applied.entry;
  }, { validator: (record) => validateLedgerRecord(entries, record) });

  // Daily, or sooner when the history grows: a fresh run also picks up an upgraded worker's code.
  await condition(() => workflowInfo().continueAsNewSuggested, CONTINUE_AS_NEW_AFTER);
  await condition(allHandlersFinished);
  await continueAsNew<typeof releaseLedger>({ entries });
}
