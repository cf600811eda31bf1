import type { DeployRequest } from '../../lib/messages.js';
import { checkFreeze } from '../../lib/deployFreeze.js';
import { requestDeploy } from '../../lib/operations.js';
import { commitSha, gitRef, imageRef } from '../../lib/validate.js';
import type { Command } from '../command.js';
import { reportStartedRun } from '../runReport.js';
import { UsageError } from '../usageError.js';
import { expectArguments, resolveAppEnvironment, text, validValue } from '../validation.js';

export const deployCommand: Command = {
  name: 'deploy',
  summary: 'test, build and deploy a commit or an image; rolls back by itself if health or smoke fails',
  usage: 'flightdeck deploy <app> [environment] [--sha SHA] [--ref REF] [--image IMAGE] [--break-glass REASON] [--no-wait] [--json]',
  details: `Queues a deploy of <app> to [environment] (optional when the app has only one) and follows it:
each stage is printed as it starts and finishes, then the outcome. A newer deploy of the same app and
environment replaces one that is still waiting; it never interleaves with one that is deploying.

  --sha SHA      the commit to deploy (hex, 7 to 64 characters)
  --ref REF      the branch or tag to check out (defaults to the sha)
  --image IMAGE  deploy a prebuilt image: skips test and build
  --break-glass REASON
                 deploy through a freeze window (environments.<env>.freezes); only people on
                 the environment's breakGlass list (cli:<your OS user>) may; audit-logged

Exit code 0 when the deploy succeeded, 1 when it failed or was rolled back (the reason is printed).

  flightdeck deploy shop production --sha 3f2c1a9
  flightdeck deploy shop staging --image registry.fly.io/shop:deployment-01HX --no-wait`,
  options: { sha: { type: 'string' }, ref: { type: 'string' }, image: { type: 'string' }, 'break-glass': { type: 'string' } },
  prepare({ positionals, options, config, actor, identity }) {
    const [app, environment] = expectArguments(positionals, 'deploy', 1, 2);
    const target = resolveAppEnvironment(config, 'deploy', app!, environment);
    const sha = text(options.sha), ref = text(options.ref), image = text(options.image), glassReason = text(options['break-glass']);
    if (image && (sha || ref)) throw new UsageError('deploy: --image deploys a prebuilt image; it cannot be combined with --sha or --ref', 'deploy');
    if (glassReason !== undefined && !glassReason.trim()) throw new UsageError('deploy: --break-glass needs a reason, e.g. --break-glass "payment outage hotfix"', 'deploy');
    const breakGlass = glassReason === undefined ? undefined : { reason: glassReason.trim() };
    // Refused here, before anything starts (DeployFrozenError: exit 1, "deploy-frozen").
    checkFreeze(target.appName, target.environment, target.env, breakGlass, identity, Date.now());
    const request: DeployRequest = {
      app: target.appName,
      environment: target.environment,
      ...(sha ? { sha: validValue(commitSha, sha.toLowerCase(), '--sha') } : {}),
      ...(ref ? { ref: validValue(gitRef, ref, '--ref') } : {}),
      ...(image ? { image: validValue(imageRef, image, '--image') } : {}),
      ...(breakGlass ? { breakGlass } : {}),
      trigger: { source: 'cli', actor, identity },
    };
    return async (session) => {
      const queued = await requestDeploy(session.client, session.taskQueue, request);
      if (queued.supersededWorkflowId) session.out.line(`replaces the waiting deploy ${queued.supersededWorkflowId}`);
      const facts = { disposition: queued.disposition, ...(queued.supersededWorkflowId ? { supersededWorkflowId: queued.supersededWorkflowId } : {}) };
      return (await reportStartedRun(session, { workflowId: queued.workflowId, facts }, options['no-wait'] !== true)).exitCode;
    };
  },
};
