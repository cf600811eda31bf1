import { RUN_STATES, type RunKind, type RunState } from '../../lib/messages.js';
import { withLedgerVerdicts } from '../../lib/releaseLedgerClient.js';
import { DEFAULT_RUN_LIMIT, listRuns, WORKFLOW_TYPE_OF_KIND, type RunFilter } from '../../lib/runHistory.js';
import type { Command } from '../command.js';
import { formatDuration } from '../../lib/units.js';
import { formatTable, formatTime } from '../format.js';
import { ExitCode, UsageError } from '../usageError.js';
import { expectArguments, resolveApp, resolveAppEnvironment, resolveConfiguredDatabase, text, wholeNumber } from '../validation.js';

const KINDS = Object.keys(WORKFLOW_TYPE_OF_KIND) as RunKind[];

export const historyCommand: Command = {
  name: 'history',
  summary: 'recent runs, newest first: deploys, rollbacks, migrations, backups, restores',
  usage: 'flightdeck history [app] [environment] [--db DATABASE] [--kind KIND] [--state STATE] [--limit N] [--json]',
  details: `Lists runs from Temporal's visibility store, newest first.

  [app] [environment]  only this app's runs (deploys, rollbacks, migrations), in one environment
  --db DATABASE        only this database's runs (backups, restores)
  --kind KIND          one of ${KINDS.join(', ')}
  --state STATE        only runs in this state: ${RUN_STATES.join(', ')}
  --limit N            at most N runs (default ${DEFAULT_RUN_LIMIT})

  flightdeck history shop production
  flightdeck history --db orders --kind backup --limit 5
  flightdeck history shop --state waiting-for-approval`,
  options: { db: { type: 'string' }, kind: { type: 'string' }, state: { type: 'string' }, limit: { type: 'string' } },
  prepare({ positionals, options, config }) {
    const [app, environment] = expectArguments(positionals, 'history', 0, 2);
    const filter: RunFilter = { limit: wholeNumber(options.limit, 'limit', 1) ?? DEFAULT_RUN_LIMIT };
    if (app !== undefined) {
      resolveApp(config, app);
      filter.app = app;
      if (environment !== undefined) filter.environment = resolveAppEnvironment(config, 'history', app, environment).environment;
    }
    const database = text(options.db);
    if (database !== undefined) {
      resolveConfiguredDatabase(config, 'history', database);
      filter.database = database;
    }
    const kind = text(options.kind);
    if (kind !== undefined) {
      if (!KINDS.includes(kind as RunKind)) throw new UsageError(`--kind must be one of ${KINDS.join(', ')}, got "${kind}"`, 'history');
      filter.kind = kind as RunKind;
    }
    const state = text(options.state);
    if (state !== undefined) {
      if (!(RUN_STATES as readonly string[]).includes(state)) throw new UsageError(`--state must be one of ${RUN_STATES.join(', ')}, got "${state}"`, 'history');
      filter.state = state as RunState;
    }
    return async ({ client, out }) => {
      const runs = await withLedgerVerdicts(client, await listRuns(client, filter));
      if (runs.length === 0) out.line('no runs match');
      else {
        out.line(formatTable(['STARTED', 'KIND', 'TARGET', 'STATUS', 'DURATION', 'RUN'], runs.map((run) => [
          formatTime(run.startedAt),
          run.kind,
          run.app ? [run.app, run.environment].filter(Boolean).join('/') : run.database ?? '-',
          run.verdict ?? run.status.toLowerCase(),
          run.closedAt ? formatDuration(Date.parse(run.closedAt) - Date.parse(run.startedAt)) : 'running',
          run.workflowId,
        ])));
      }
      out.result({ runs });
      return ExitCode.ok;
    };
  },
};
