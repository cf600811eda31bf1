// Deploy locks: "nobody deploys shop to production until we say so". Rollbacks still run.
import { lockDeploys, unlockDeploys } from '../../lib/deployLocks.js';
import { duration } from '../../lib/validate.js';
import type { Command } from '../command.js';
import { formatTime } from '../format.js';
import { ExitCode, UsageError } from '../usageError.js';
import { expectArguments, resolveAppEnvironment, text, validValue } from '../validation.js';

export const lockCommand: Command = {
  name: 'lock',
  summary: 'stop new deploys of an app environment (rollbacks still run), with a reason and optional expiry',
  usage: 'flightdeck lock <app> <environment> --reason TEXT [--for DURATION] [--actor NAME] [--json]',
  details: `Locks deploys of <app> to <environment>: new deploys are refused with the lock's owner and
reason until someone unlocks or the lock expires. Locking a locked environment keeps the first lock.

  --reason TEXT    why, shown to anyone whose deploy is refused (required)
  --for DURATION   lift the lock by itself after this long, e.g. 2h or 3d

  flightdeck lock shop production --reason "release freeze until Monday" --for 3d`,
  options: { reason: { type: 'string' }, for: { type: 'string' } },
  prepare({ positionals, options, config, actor }) {
    const [app, environment] = expectArguments(positionals, 'lock', 2, 2);
    const target = resolveAppEnvironment(config, 'lock', app!, environment);
    const reason = text(options.reason);
    if (!reason?.trim()) throw new UsageError('lock: --reason is required, e.g. --reason "release freeze until Monday"', 'lock');
    const expiresIn = text(options.for);
    if (expiresIn !== undefined) validValue(duration, expiresIn, '--for');
    return async ({ client, taskQueue, out }) => {
      const { lock, wasAlreadyLocked } = await lockDeploys(client, taskQueue, {
        app: target.appName, environment: target.environment, owner: actor, reason, ...(expiresIn ? { expiresIn } : {}),
      });
      const until = lock.expiresAt ? ` until ${formatTime(lock.expiresAt)}` : ' until unlocked';
      out.line(wasAlreadyLocked
        ? `${app}/${environment} was already locked by ${lock.owner}${until}: ${lock.reason}`
        : `locked deploys of ${app}/${environment}${until}`);
      out.result({ app, environment, lock, wasAlreadyLocked });
      return ExitCode.ok;
    };
  },
};

export const unlockCommand: Command = {
  name: 'unlock',
  summary: 'allow deploys of an app environment again',
  usage: 'flightdeck unlock <app> <environment> [--actor NAME] [--json]',
  details: `Removes the deploy lock of <app> in <environment>; a deploy that was held starts.

  flightdeck unlock shop production`,
  prepare({ positionals, config, actor }) {
    const [app, environment] = expectArguments(positionals, 'unlock', 2, 2);
    const target = resolveAppEnvironment(config, 'unlock', app!, environment);
    return async ({ client, out }) => {
      const { removed, waitingWorkflowId } = await unlockDeploys(client, { app: target.appName, environment: target.environment, actor });
      out.line(removed ? `unlocked deploys of ${app}/${environment} (locked by ${removed.owner}: ${removed.reason})` : `${app}/${environment} was not locked`);
      if (waitingWorkflowId) out.line(`the waiting deploy starts: ${waitingWorkflowId}`);
      out.result({ app, environment, ...(removed ? { removed } : {}), ...(waitingWorkflowId ? { waitingWorkflowId } : {}) });
      return ExitCode.ok;
    };
  },
};
