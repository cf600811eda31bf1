// The release ledger from inside a run: record what was deployed and Flightdeck's verdict, read the
// entries to find the last known good release, and capture the fly.toml a release is deployed with.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { activityInfo } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { PermanentError, permanentFailure, rootMessage } from '../lib/errors.js';
import type { FlyConfigSnapshot, LedgerEntry, LedgerRecord } from '../lib/releaseLedger.js';
import { readLedger, recordLedgerEntry, type LedgerAddress } from '../lib/releaseLedgerClient.js';

/** A fly.toml is a few KiB; anything larger is not a fly.toml worth keeping in history. */
const MAX_FLY_CONFIG_BYTES = 64 * 1024;

export interface ReleaseLedgerActivityDeps {
  temporalClient?: Client;
  /** Told when a record makes a release verified (automatic promotion offers it); must not throw. */
  onVerified?: (address: LedgerAddress, entry: LedgerEntry, taskQueue: string) => Promise<void>;
}

export function createReleaseLedgerActivities(deps: ReleaseLedgerActivityDeps) {
  function client(): Client {
    if (!deps.temporalClient) {
      throw permanentFailure(PermanentError.ConfigInvalid, 'this worker was started without a Temporal client, so it cannot reach the release ledger');
    }
    return deps.temporalClient;
  }

  return {
    async recordRelease(input: LedgerAddress & { record: LedgerRecord }): Promise<LedgerEntry> {
      // The ledger runs on this worker's task queue, like the runs that write to it.
      const entry = await recordLedgerEntry(client(), activityInfo().taskQueue, input, input.record);
      if (input.record.verdict === 'verified') await deps.onVerified?.({ app: input.app, environment: input.environment }, entry, activityInfo().taskQueue);
      return entry;
    },

    async readReleaseLedger(input: LedgerAddress): Promise<LedgerEntry[]> {
      return readLedger(client(), input);
    },

    /** The checkout's fly.toml as deployed; absent when the checkout has none. */
    async readFlyConfig(input: { workspace: string }): Promise<FlyConfigSnapshot | undefined> {
      return readFlyConfigFile(input.workspace);
    },

    /**
     * The `deploying` entry of a rollout that starts, with the fly.toml it is deployed with (the
     * checkout's, read here; else the record's own, a promotion's), in one activity (patch
     * deploying-in-one-activity): one completion wakes the run during the rollout instead of two.
     * A fly.toml that cannot be kept is left out, the entry recorded anyway, and the reason returned.
     */
    async recordDeploying(input: LedgerAddress & { record: LedgerRecord; workspace?: string }): Promise<{ flyConfigProblem?: string }> {
      let flyConfig = input.workspace ? undefined : input.record.flyConfig;
      let flyConfigProblem: string | undefined;
      if (input.workspace) {
        try {
          flyConfig = await readFlyConfigFile(input.workspace);
        } catch (err) {
          flyConfigProblem = rootMessage(err);
        }
      }
      await recordLedgerEntry(client(), activityInfo().taskQueue, input, { ...input.record, flyConfig });
      return flyConfigProblem === undefined ? {} : { flyConfigProblem };
    },
  };
}

async function readFlyConfigFile(workspace: string): Promise<FlyConfigSnapshot | undefined> {
  const file = path.join(workspace, 'fly.toml');
  let content: string;
  try {
    content = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (Buffer.byteLength(content) > MAX_FLY_CONFIG_BYTES) {
    throw permanentFailure(PermanentError.ConfigInvalid, `fly.toml is larger than ${MAX_FLY_CONFIG_BYTES / 1024} KiB; Flightdeck keeps each release's fly.toml and refuses one this large`);
  }
  return { content, sha256: createHash('sha256').update(content).digest('hex') };
}

export type ReleaseLedgerActivities = ReturnType<typeof createReleaseLedgerActivities>;
