// Automatic promotion from inside the worker: a release verified in an environment that another one
// promotes from automatically is offered to that environment's autoPromotion workflow; once soaked,
// the promotion is requested exactly as `flightdeck promote` would (production's queue, lock,
// freezes and approval apply). Failures are reported, never thrown into the run that verified it.
import { activityInfo } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { auditLog } from '../lib/audit.js';
import { ConfigError, ownValue, resolveTarget, type AppsConfig } from '../lib/config.js';
import { DeployFrozenError } from '../lib/deployFreeze.js';
import { DeployLockedError } from '../lib/deployLocks.js';
import { durationToMs } from '../lib/duration.js';
import type { Logger } from '../lib/log.js';
import { offerForAutoPromotion, requestPromotion } from '../lib/operations.js';
import { autoPromotionsFrom, isStillCurrent, PromotionRefused, type AutoPromotionOutcome, type PromotionCandidate } from '../lib/promotion.js';
import type { LedgerEntry } from '../lib/releaseLedger.js';
import { readLedger, type LedgerAddress } from '../lib/releaseLedgerClient.js';
import { PermanentError, permanentFailure } from '../lib/errors.js';

export interface PromotionActivityDeps {
  temporalClient?: Client;
  loadAppsConfig: () => AppsConfig;
  logger: Logger;
}

export const AUTO_PROMOTION_ACTOR = 'flightdeck:auto-promotion';

export function createPromotionActivities(deps: PromotionActivityDeps) {
  function client(): Client {
    if (!deps.temporalClient) throw permanentFailure(PermanentError.ConfigInvalid, 'this worker was started without a Temporal client, so it cannot promote');
    return deps.temporalClient;
  }

  return {
    /** Called once the source's ledger has the release verified; a failure to offer is logged, not thrown. */
    async offerVerifiedRelease(address: LedgerAddress, entry: LedgerEntry, taskQueue: string): Promise<void> {
      if (entry.kind !== 'deploy' || entry.verdict !== 'verified' || !deps.temporalClient) return;
      const app = ownValue(deps.loadAppsConfig().apps, address.app);
      for (const { to, soak } of app ? autoPromotionsFrom(app.environments, address.environment) : []) {
        const verifiedAtMs = Date.parse(entry.finishedAt ?? entry.startedAt);
        const candidate: PromotionCandidate = { entryId: entry.id, image: entry.image, promotableAt: new Date(verifiedAtMs + durationToMs(soak)).toISOString() };
        try {
          await offerForAutoPromotion(deps.temporalClient, taskQueue, { app: address.app, from: address.environment, to, candidate });
        } catch (err) {
          deps.logger.warn({ app: address.app, from: address.environment, to, image: entry.image }, `automatic promotion not offered: ${(err as Error).message}`);
        }
      }
    },

    /** The soak is over: promote the candidate if promotion.auto is still on and the source still runs it. */
    async promoteAutomatically(input: { app: string; from: string; to: string; candidate: PromotionCandidate }): Promise<AutoPromotionOutcome> {
      const { app, from, to, candidate } = input;
      const subject = `${app}/${to}`;
      const answer = (outcome: AutoPromotionOutcome['outcome'], detail: string, workflowId?: string): AutoPromotionOutcome => {
        auditLog(deps.logger, { actor: AUTO_PROMOTION_ACTOR, action: 'promote', target: subject, outcome: outcome === 'requested' ? 'allowed' : 'refused', source: 'pipeline', detail });
        return { ...candidate, outcome, detail, ...(workflowId ? { workflowId } : {}) };
      };
      const config = deps.loadAppsConfig();
      let promotion;
      try {
        promotion = resolveTarget(config, app, to).env.promotion;
      } catch (err) {
        if (err instanceof ConfigError) return answer('skipped', err.problems.join('; '));
        throw err;
      }
      if (!promotion?.auto || promotion.from !== from) return answer('skipped', `${subject} no longer promotes from ${from} automatically (promotion.auto)`);
      if (!isStillCurrent(await readLedger(client(), { app, environment: from }), candidate)) {
        return answer('skipped', `${app}/${from} no longer runs ${candidate.image} as its newest good release (rolled back, or replaced)`);
      }
      try {
        const promoted = await requestPromotion(client(), activityInfo().taskQueue, config, {
          app, from, to, image: candidate.image, trigger: { source: 'pipeline', actor: AUTO_PROMOTION_ACTOR },
        });
        return answer('requested', `${promoted.workflowId} (${candidate.image} from ${from})`, promoted.workflowId);
      } catch (err) {
        if (err instanceof PromotionRefused || err instanceof DeployFrozenError || err instanceof DeployLockedError) return answer('refused', err.message);
        throw err;
      }
    },
  };
}

export type PromotionActivities = ReturnType<typeof createPromotionActivities>;
