// Automatic promotion (environments.<to>.promotion.auto): one workflow per app and target environment
// holds the newest release the source verified, waits until its soak is over, and then asks for the
// promotion as a person would (activity promoteAutomatically → the target's deploy queue: its lock,
// freezes and approval apply). A newer verified release replaces one still soaking; the workflow ends
// after an idle hour, and the next offer (signal-with-start) starts it again.
import { allHandlersFinished, condition, proxyActivities, setHandler } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { rootMessage } from '../lib/errors.js';
import {
  autoPromotionStatusQuery, promotionCandidateSignal, type AutoPromotionOutcome, type PromotionCandidate,
} from '../lib/promotion.js';
import { localOptions } from './activityOptions.js';

const promote = proxyActivities<Activities>(localOptions);
const IDLE_EXIT_MS = 60 * 60_000;

export interface AutoPromotionInput {
  app: string;
  from: string;
  to: string;
}

export async function autoPromotion(input: AutoPromotionInput): Promise<AutoPromotionOutcome | undefined> {
  let waiting: PromotionCandidate | undefined;
  let last: AutoPromotionOutcome | undefined;
  const superseded: string[] = [];
  setHandler(promotionCandidateSignal, (offered) => {
    // A retried offer of the same release changes nothing.
    if (waiting?.entryId === offered.entryId || last?.entryId === offered.entryId) return;
    if (waiting) superseded.push(waiting.entryId);
    if (superseded.length > 20) superseded.shift();
    waiting = offered;
  });
  setHandler(autoPromotionStatusQuery, () => ({ waiting, superseded, last }));

  for (;;) {
    const hasOffer = await condition(() => waiting !== undefined, IDLE_EXIT_MS);
    if (!hasOffer) {
      await condition(allHandlersFinished);
      if (waiting === undefined) return last;
      continue;
    }
    const candidate = waiting!;
    const isReplaced = await condition(() => waiting !== candidate, Math.max(1, Date.parse(candidate.promotableAt) - Date.now()));
    if (isReplaced) continue;
    waiting = undefined;
    try {
      last = await promote.promoteAutomatically({ ...input, candidate });
    } catch (err) {
      last = { ...candidate, outcome: 'refused', detail: `the promotion could not be requested: ${rootMessage(err)}` };
    }
  }
}
