import { requestPromotion } from '../../lib/operations.js';
import { imageRef } from '../../lib/validate.js';
import type { Command } from '../command.js';
import { reportStartedRun } from '../runReport.js';
import { UsageError } from '../usageError.js';
import { expectArguments, resolveAppEnvironment, text, validValue } from '../validation.js';

export const promoteCommand: Command = {
  name: 'promote',
  summary: 'deploy to one environment exactly the image (and fly.toml) another verified',
  usage: 'flightdeck promote <app> <from> <to> [--image IMAGE] [--break-glass REASON] [--no-wait] [--json]',
  details: `Reads <from>'s release ledger and deploys its newest verified release to <to>: the same image,
never rebuilt, with the fly.toml it was verified with. <to>'s deploy lock, freeze windows and
approval apply. Refused, starting nothing, when <from> has verified no release (or that image), when
the release has not soaked long enough (environments.<to>.promotion.soak), or when <to> takes
promotions from another environment (environments.<to>.promotion.from).

  --image IMAGE  promote this verified image instead of the newest one
  --break-glass REASON
                 promote through a freeze window of <to> (its breakGlass list only)

  flightdeck promote shop staging production`,
  options: { image: { type: 'string' }, 'break-glass': { type: 'string' } },
  prepare({ positionals, options, config, actor, identity }) {
    const [app, from, to] = expectArguments(positionals, 'promote', 3, 3);
    const source = resolveAppEnvironment(config, 'promote', app!, from);
    const target = resolveAppEnvironment(config, 'promote', app!, to);
    const image = text(options.image), glassReason = text(options['break-glass']);
    if (glassReason !== undefined && !glassReason.trim()) throw new UsageError('promote: --break-glass needs a reason', 'promote');
    return async (session) => {
      const promoted = await requestPromotion(session.client, session.taskQueue, config, {
        app: target.appName, from: source.environment, to: target.environment,
        ...(image ? { image: validValue(imageRef, image, '--image') } : {}),
        ...(glassReason ? { breakGlass: { reason: glassReason.trim() } } : {}),
        trigger: { source: 'cli', actor, identity },
      });
      session.out.line(`promoting ${promoted.image} from ${source.environment} to ${target.environment}`);
      return (await reportStartedRun(session, { workflowId: promoted.workflowId, facts: { image: promoted.image, disposition: promoted.disposition } }, options['no-wait'] !== true)).exitCode;
    };
  },
};
