// The incident runbook and scaling: restart machines one by one (rolling back if that does not
// heal), the emergency stop and the way back, and scale with verification. Each runs in the app
// environment's queue (never during a deploy) and is followed to its end like a deploy.
import { requestIncidentRunbook, requestScale, validateScaleRequest } from '../../lib/appOperations.js';
import type { ScaleRequest } from '../../lib/messages.js';
import type { Command } from '../command.js';
import { reportStartedRun } from '../runReport.js';
import { UsageError } from '../usageError.js';
import { expectArguments, resolveAppEnvironment, text } from '../validation.js';

export const restartCommand: Command = {
  name: 'restart',
  summary: 'the incident runbook: assess, restart machines one by one, verify, roll back (or ask) if still failing',
  usage: 'flightdeck restart <app> [environment] [--reason TEXT] [--no-wait] [--json]',
  details: `Runs the incident runbook on <app> in [environment] and follows it to its end:

  assess    health, every machine's state and checks (fly machine list), recent error log lines
  restart   fly machine restart <id>, one machine at a time, each passing its checks before the next
  verify    health and smoke checks, as after a deploy
  recover   if still failing: per environments.<env>.incident.ifStillFailing (default: as onFailure),
            roll back to the last known good release, or pause and ask in Slack (roll back or keep)

It runs in the environment's deploy queue: never during a deploy (it waits for it), and a deploy
requested meanwhile waits for it. One runbook per environment at a time: asking again while one
runs (or the health watch triggering) gets that run. Deploy locks and freezes do not hold it.

  flightdeck restart shop production --reason "checkout 500s since 14:02"`,
  options: { reason: { type: 'string' } },
  prepare({ positionals, options, config, actor, identity }) {
    const [app, environment] = expectArguments(positionals, 'restart', 1, 2);
    const target = resolveAppEnvironment(config, 'restart', app!, environment);
    const reason = text(options.reason) ?? `requested by ${actor} from the command line`;
    return async (session) => {
      const { workflowId } = await requestIncidentRunbook(session.client, session.taskQueue, {
        app: target.appName, environment: target.environment, reason, trigger: { source: 'cli', actor, identity },
      });
      return (await reportStartedRun(session, { workflowId }, options['no-wait'] !== true)).exitCode;
    };
  },
};

function scaleCommand(action: ScaleRequest['action'], summary: string, usage: string, details: string): Command {
  return {
    name: action,
    summary,
    usage,
    details,
    options: { reason: { type: 'string' }, region: { type: 'string' } },
    prepare({ positionals, options, config, actor, identity }) {
      const [app, environment, count] = expectArguments(positionals, action, 2, action === 'scale' ? 3 : 2);
      const target = resolveAppEnvironment(config, action, app!, environment);
      if (action === 'scale' && count === undefined) throw new UsageError('scale: give the machine count, e.g. flightdeck scale shop production 3', action);
      const request: ScaleRequest = {
        app: target.appName, environment: target.environment, action,
        ...(count === undefined ? {} : { count: /^\d+$/.test(count) ? Number(count) : Number.NaN }),
        ...(text(options.region) ? { region: text(options.region) } : {}),
        reason: text(options.reason) ?? `requested by ${actor} from the command line`,
        trigger: { source: 'cli', actor, identity },
      };
      try {
        validateScaleRequest(request);
      } catch (err) {
        throw new UsageError((err as Error).message, action);
      }
      return async (session) => {
        const { workflowId } = await requestScale(session.client, session.taskQueue, request);
        return (await reportStartedRun(session, { workflowId }, options['no-wait'] !== true)).exitCode;
      };
    },
  };
}

export const stopCommand = scaleCommand('stop',
  'emergency stop: scale every machine to 0, remembering the per-region counts (approval where deploys need it)',
  'flightdeck stop <app> <environment> [--reason TEXT] [--no-wait] [--json]',
  `Stops <app> in <environment>: fly scale count 0, after an approver agrees where the environment
requires approval for deploys. The machines per region it ran are remembered (in the environment's
deploy queue, until start), and deploys are locked so none brings machines back meanwhile.

  flightdeck stop shop production --reason "data leak under investigation"`);

export const startCommand = scaleCommand('start',
  'bring a stopped app back: the per-region counts it had before stop, then health',
  'flightdeck start <app> <environment> [--no-wait] [--json]',
  `Brings back what flightdeck stop stopped: the same number of machines in each region
(fly scale count N --region r), checks health, and lifts the lock the stop took.

  flightdeck start shop production`);

export const scaleCountCommand = scaleCommand('scale',
  'set the machine count (in a region, or over the regions it runs in), then check it and its health',
  'flightdeck scale <app> <environment> <count> [--region r] [--reason TEXT] [--no-wait] [--json]',
  `Runs fly scale count <count> [--region r] --yes, then checks that the app has that many machines
there and that it is healthy.

  flightdeck scale shop production 3
  flightdeck scale shop production 1 --region ams`);
