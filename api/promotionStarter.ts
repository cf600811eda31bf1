// The one path by which the write API and Slack promote a release (lib/promotion.ts): refusals
// (unverified image, soak not over, a lock, a freeze) are 409s with the reason, audit-logged.
import { z } from 'zod';
import { auditLog } from '../lib/audit.js';
import { requestFields, resolveTarget } from '../lib/config.js';
import { DeployFrozenError } from '../lib/deployFreeze.js';
import { DeployLockedError } from '../lib/deployLocks.js';
import type { Trigger } from '../lib/messages.js';
import { requestPromotion } from '../lib/operations.js';
import { PromotionRefused } from '../lib/promotion.js';
import { imageRef } from '../lib/validate.js';
import type { ApiDeps } from './deps.js';
import { conflict } from './httpErrors.js';
import { lookUp, parseRequest } from './validation.js';

export const promotionSchema = z.object({
  app: requestFields.resourceName,
  from: requestFields.resourceName,
  to: requestFields.resourceName,
  image: imageRef.optional(),
  breakGlass: z.object({ reason: z.string().trim().min(1).max(500) }).strict().optional(),
}).strict();

export type PromotionTarget = z.infer<typeof promotionSchema>;

export async function startPromotion(deps: ApiDeps, target: PromotionTarget, trigger: Trigger): Promise<{ workflowId: string; disposition: string; image: string }> {
  const checked = parseRequest(promotionSchema, target, 'promotion request');
  const subject = `${checked.app}/${checked.to}`;
  try {
    const config = deps.loadApps();
    lookUp(() => [checked.from, checked.to].map((environment) => resolveTarget(config, checked.app, environment)));
    const promoted = await requestPromotion(deps.client, deps.taskQueue, config, { ...checked, trigger });
    deps.metrics.runsStarted.inc({ kind: 'deploy' });
    auditLog(deps.logger, { actor: trigger.actor, action: 'promote', target: subject, outcome: 'allowed', source: trigger.source, detail: `${promoted.workflowId} (${promoted.image} from ${checked.from})` });
    return promoted;
  } catch (err) {
    if (!(err instanceof PromotionRefused || err instanceof DeployFrozenError || err instanceof DeployLockedError)) throw err;
    auditLog(deps.logger, { actor: trigger.actor, action: 'promote', target: subject, outcome: 'refused', source: trigger.source, detail: err.message });
    throw conflict(err.message);
  }
}
