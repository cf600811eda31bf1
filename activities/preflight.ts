// The deploy pipeline's preflight reads in one activity: Fly's status of the app, its secret names
// and the release ledger, read at once. One task-queue round trip instead of three is most of what a
// stage costs besides its work (issue 19.2); each read fails the activity as it would alone.
import type { LedgerEntry } from '../lib/releaseLedger.js';
import type { LedgerAddress } from '../lib/releaseLedgerClient.js';
import type { DeployTarget } from './deployTarget.js';
import type { FlyAppStatus } from './fly.js';

export interface PreflightReadsDeps {
  flyAppStatus(flyApp: string): Promise<FlyAppStatus>;
  flySecretNames(flyApp: string): Promise<string[]>;
  readReleaseLedger(input: LedgerAddress): Promise<LedgerEntry[]>;
  resolveDeployTarget(input: LedgerAddress): Promise<DeployTarget>;
}

export interface PreflightReads {
  status: FlyAppStatus;
  secretNames: string[];
  entries: LedgerEntry[];
}

/** A frozen environment's target comes alone: the workflow decides on the freeze before anything is read. */
export interface TargetAndPreflightReads {
  target: DeployTarget;
  reads?: PreflightReads;
}

export function createPreflightActivities(reads: PreflightReadsDeps) {
  async function readPreflight(input: LedgerAddress & { flyApp: string }): Promise<PreflightReads> {
    const [status, secretNames, entries] = await Promise.all([
      reads.flyAppStatus(input.flyApp),
      reads.flySecretNames(input.flyApp),
      reads.readReleaseLedger({ app: input.app, environment: input.environment }),
    ]);
    return { status, secretNames, entries };
  }

  return {
    readPreflight,

    /**
     * The deploy target (as resolveDeployTarget, failing as it does), then, unless a freeze is in
     * force, the preflight reads: one activity, and the run's first workflow task holds no local
     * activity (patch preflight-resolves-target).
     */
    async resolveAndReadPreflight(input: LedgerAddress): Promise<TargetAndPreflightReads> {
      const target = await reads.resolveDeployTarget({ app: input.app, environment: input.environment });
      if (target.freeze) return { target };
      return { target, reads: await readPreflight({ app: target.app, environment: target.environment, flyApp: target.flyApp }) };
    },
  };
}
