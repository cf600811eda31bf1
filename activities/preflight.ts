// The deploy pipeline's preflight reads in one activity: Fly's status of the app, its secret names
// and the release ledger, read at once. One task-queue round trip instead of three is most of what a
// stage costs besides its work (issue 19.2); each read fails the activity as it would alone.
import type { LedgerEntry } from '../lib/releaseLedger.js';
import type { LedgerAddress } from '../lib/releaseLedgerClient.js';
import type { FlyAppStatus } from './fly.js';

export interface PreflightReadsDeps {
  flyAppStatus(flyApp: string): Promise<FlyAppStatus>;
  flySecretNames(flyApp: string): Promise<string[]>;
  readReleaseLedger(input: LedgerAddress): Promise<LedgerEntry[]>;
}

export interface PreflightReads {
  status: FlyAppStatus;
  secretNames: string[];
  entries: LedgerEntry[];
}

export function createPreflightActivities(reads: PreflightReadsDeps) {
  return {
    async readPreflight(input: LedgerAddress & { flyApp: string }): Promise<PreflightReads> {
      const [status, secretNames, entries] = await Promise.all([
        reads.flyAppStatus(input.flyApp),
        reads.flySecretNames(input.flyApp),
        reads.readReleaseLedger({ app: input.app, environment: input.environment }),
      ]);
      return { status, secretNames, entries };
    },
  };
}
