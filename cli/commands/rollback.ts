import type { RollbackRequest } from '../../lib/messages.js';
import { requestRollback } from '../../lib/operations.js';
import { imageRef } from '../../lib/validate.js';
import type { Command } from '../command.js';
import { reportStartedRun } from '../runReport.js';
import { expectArguments, resolveAppEnvironment, text, validValue } from '../validation.js';

export const rollbackCommand: Command = {
  name: 'rollback',
  summary: 'put the last known good release (or a named version or image) back, and check its health',
  usage: 'flightdeck rollback <app> [environment] [--to VERSION|IMAGE] [--reason TEXT] [--no-wait] [--json]',
  details: `Rolls <app> in [environment] back and follows the run to its end.

  --to VERSION|IMAGE  a release version (42 or v42) to take the image from, or an image reference;
                      default: the last known good image
  --reason TEXT       recorded with the run and shown in Slack

Rollbacks run even while deploys are locked; by default a rollback locks deploys until someone
unlocks (flightdeck unlock <app> <environment>).

  flightdeck rollback shop production
  flightdeck rollback shop production --to v41 --reason "checkout errors since v42"`,
  options: { to: { type: 'string' }, reason: { type: 'string' } },
  prepare({ positionals, options, config, actor }) {
    const [app, environment] = expectArguments(positionals, 'rollback', 1, 2);
    const target = resolveAppEnvironment(config, 'rollback', app!, environment);
    const to = text(options.to);
    const request: RollbackRequest = {
      app: target.appName,
      environment: target.environment,
      ...(to ? { target: rollbackTarget(to) } : {}),
      reason: text(options.reason) ?? `requested by ${actor} from the command line`,
      trigger: { source: 'cli', actor },
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
