import type { RollbackRequest } from '../../lib/messages.js';
import { requestRollback } from '../../lib/operations.js';
import { imageRef } from '../../lib/validate.js';
import type { Command } from '../command.js';
import { reportStartedRun } from '../runReport.js';
import { UsageError } from '../usageError.js';
import { expectArguments, resolveAppEnvironment, text, validValue } from '../validation.js';

export const rollbackCommand: Command = {
  name: 'rollback',
  summary: 'put the last known good release (or a named version or image) back, and check its health',
  usage: 'flightdeck rollback <app> [environment] [--to VERSION|IMAGE] [--force] [--reason TEXT] [--no-wait] [--json]',
  details: `Rolls <app> in [environment] back and follows the run to its end.

  --to VERSION|IMAGE  a release version (42 or v42) to take the image from, or an image reference;
                      default: the last known good release (the newest one Flightdeck verified)
  --force             go to a --to target whose verdict is failed anyway (needs --reason; audit-logged)
  --reason TEXT       recorded with the run and shown in Slack

The release goes back with the fly.toml it was verified with, and is judged by the same health and
smoke checks as a deploy. Flightdeck never picks a release it saw fail; \`flightdeck releases\` lists
the verdicts.

Rollbacks run even while deploys are locked; by default a rollback locks deploys until someone
unlocks (flightdeck unlock <app> <environment>).

  flightdeck rollback shop production
  flightdeck rollback shop production --to v41 --reason "checkout errors since v42"`,
  options: { to: { type: 'string' }, reason: { type: 'string' }, force: { type: 'boolean' } },
  prepare({ positionals, options, config, actor, identity }) {
    const [app, environment] = expectArguments(positionals, 'rollback', 1, 2);
    const target = resolveAppEnvironment(config, 'rollback', app!, environment);
    const to = text(options.to);
    const reason = text(options.reason);
    if (options.force === true && (!to || !reason)) {
      throw new UsageError('--force needs --to (the release to force) and --reason (why; it is audit-logged)', 'rollback');
    }
    const request: RollbackRequest = {
      app: target.appName,
      environment: target.environment,
      ...(to ? { target: rollbackTarget(to) } : {}),
      reason: reason ?? `requested by ${actor} from the command line`,
      ...(options.force === true ? { force: { reason: reason! } } : {}),
      trigger: { source: 'cli', actor, identity },
    };
    return async (session) => {
      const workflowId = await requestRollback(session.client, session.taskQueue, request);
      return (await reportStartedRun(session, { workflowId }, options['no-wait'] !== true)).exitCode;
    };
  },
};

function rollbackTarget(to: string): NonNullable<RollbackRequest['target']> {
  const version = /^v?(\d+)$/.exec(to);
  if (version) return { releaseVersion: Number(version[1]) };
  return { image: validValue(imageRef, to, '--to') };
}
