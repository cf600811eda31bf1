// The one path by which every HTTP trigger (GitHub, generic CI, the write API) queues a deploy:
// names, refs and shas are validated against the config before anything reaches a workflow.
// Webhooks are accepted (durable at once, no worker in the path; GitHub waits 10 s and never
// retries); people and tools on the write API and Slack get the queue's answer (started, queued,
// or refused by a lock).
import { z } from 'zod';
import { requestFields, resolveTarget } from '../lib/config.js';
import { DeployLockedError } from '../lib/deployLocks.js';
import type { GitHubDeploymentRequest } from '../lib/githubDeployments.js';
import type { EnqueueResult, Trigger } from '../lib/messages.js';
import { acceptDeploy, requestDeploy } from '../lib/operations.js';
import { describeImageRefusal, isImageAllowed } from '../lib/imagePolicy.js';
import { checkFreeze, DeployFrozenError } from '../lib/deployFreeze.js';
import { imageRef } from '../lib/validate.js';
import { auditLog } from '../lib/audit.js';
import type { ApiDeps } from './deps.js';
import { conflict, forbidden } from './httpErrors.js';
import { lookUp, parseRequest } from './validation.js';

export const deployTargetSchema = z.object({
  app: requestFields.resourceName,
  environment: requestFields.resourceName,
  sha: requestFields.commitSha.optional(),
  ref: requestFields.gitRef.optional(),
  image: imageRef.optional(),
  breakGlass: z.object({ reason: z.string().trim().min(1, 'why the deploy cannot wait for the freeze to end').max(500) }).strict().optional()
    .describe('deploy through a freeze window; only people on the environment\'s breakGlass list may'),
}).strict();

export type DeployTarget = z.infer<typeof deployTargetSchema>;

export interface StartedDeploy extends EnqueueResult {
  app: string;
  environment: string;
}

/** accept: answer once the request is durable (webhooks); enqueue: answer with the queue's decision. */
export type DeployAnswer = 'accept' | 'enqueue';

/**
 * github: show the run on GitHub as a Deployment (webhooks from GitHub, OIDC callers), when the app
 * has a GitHub token (apps.<app>.github.token).
 */
export async function startDeploy(
  deps: ApiDeps, target: DeployTarget, trigger: Trigger, answer: DeployAnswer = 'enqueue', github?: GitHubDeploymentRequest,
): Promise<StartedDeploy> {
  const checked = parseRequest(deployTargetSchema, target, 'deploy request');
  const { env } = lookUp(() => resolveTarget(deps.loadApps(), checked.app, checked.environment));
  const subject = `${checked.app}/${checked.environment}`;
  if (checked.image !== undefined && !isImageAllowed(env, checked.image)) {
    const reason = describeImageRefusal(env, checked.image);
    auditLog(deps.logger, { actor: trigger.actor, action: 'deploy', target: subject, outcome: 'refused', source: trigger.source, detail: reason });
    throw forbidden(reason);
  }
  try {
    const breakGlass = checkFreeze(checked.app, checked.environment, env, checked.breakGlass, trigger.identity, deps.now());
    if (breakGlass) auditLog(deps.logger, { actor: trigger.actor, action: 'break-glass', target: subject, outcome: 'allowed', source: trigger.source, detail: breakGlass });
  } catch (err) {
    if (!(err instanceof DeployFrozenError)) throw err;
    auditLog(deps.logger, { actor: trigger.actor, action: 'deploy', target: subject, outcome: 'refused', source: trigger.source, detail: err.message });
    throw conflict(err.message);
  }
  let result: EnqueueResult;
  try {
    const request = { ...withoutUndefined(checked), ...(github ? { github } : {}), trigger };
    result = await (answer === 'accept' ? acceptDeploy : requestDeploy)(deps.client, deps.taskQueue, request);
  } catch (err) {
    if (err instanceof DeployLockedError) {
      auditLog(deps.logger, { actor: trigger.actor, action: 'deploy', target: subject, outcome: 'refused', source: trigger.source, detail: err.message });
      throw conflict(err.message);
    }
    throw err;
  }
  if (result.disposition !== 'duplicate') deps.metrics.runsStarted.inc({ kind: 'deploy' });
  auditLog(deps.logger, {
    actor: trigger.actor, action: 'deploy', target: subject, source: trigger.source,
    outcome: result.disposition === 'duplicate' ? 'duplicate' : 'allowed',
    detail: `${result.workflowId} (${checked.sha ?? checked.image ?? checked.ref ?? 'head'})`,
  });
  return { ...result, app: checked.app, environment: checked.environment };
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
