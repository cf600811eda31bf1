import { describeLedgerEntry } from '../../lib/releaseLedger.js';
import { readLedger } from '../../lib/releaseLedgerClient.js';
import type { Command } from '../command.js';
import { formatTable, formatTime } from '../format.js';
import { ExitCode } from '../usageError.js';
import { expectArguments, resolveAppEnvironment } from '../validation.js';

export const releasesCommand: Command = {
  name: 'releases',
  summary: "the release ledger: every image Flightdeck deployed or rolled back to, with its verdict",
  usage: 'flightdeck releases <app> [environment] [--json]',
  details: `Lists the environment's release ledger, newest first: what ran, from which commit, as which
Fly release, and Flightdeck's verdict on it:

  verified           passed health, smoke and bake after Flightdeck deployed it
  verified-by-probe  found serving before Flightdeck deployed anything, and passed health and smoke
  unverified         found serving, not proven healthy
  failed             a check failed and it was not rolled back
  rolled-back        a check failed and Flightdeck rolled back from it
  kept               a check failed and a person chose to keep it
  deploying          rolling out or being checked now

A rollback goes to the newest verified release, never to one with a failed verdict.

  flightdeck releases shop production`,
  options: {},
  prepare({ positionals, config }) {
    const [app, environment] = expectArguments(positionals, 'releases', 1, 2);
    const target = resolveAppEnvironment(config, 'releases', app!, environment);
    return async ({ client, out }) => {
      const entries = await readLedger(client, { app: target.appName, environment: target.environment });
      if (entries.length === 0) out.line(`no releases recorded for ${target.appName} ${target.environment} yet`);
      else {
        out.line(formatTable(['STARTED', 'KIND', 'IMAGE', 'COMMIT', 'RELEASE', 'VERDICT', 'DETAIL'], entries.map((entry) => [
          formatTime(entry.startedAt),
          entry.kind,
          entry.image.split('/').at(-1) ?? entry.image,
          entry.commit?.slice(0, 12) ?? '-',
          entry.releaseVersion === undefined ? '-' : `v${entry.releaseVersion}`,
          entry.verdict,
          describeLedgerEntry(entry),
        ])));
      }
      out.result({ app: target.appName, environment: target.environment, releases: entries });
      return ExitCode.ok;
    };
  },
};
