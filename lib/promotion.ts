// Promotion: production gets exactly the image staging verified, with the fly.toml it was verified
// with, taken from staging's release ledger, never rebuilt. Refused for an image staging has not
// verified (or that failed there since), and before the soak time has passed since the verification.
// Pure: the clock is an argument; lib/operations.ts reads the ledger and starts the deploy.
// Automatic promotion (promotion.auto): a verified release is offered to workflows/autoPromotion.ts,
// which waits out the soak and then requests the promotion like a person would.
import { defineQuery, defineSignal } from '@temporalio/workflow';
import { hasFailedVerdict, lastKnownGood, type FlyConfigSnapshot, type LedgerEntry } from './releaseLedger.js';

/** What a promoted deploy carries: where it comes from, and the verified config. */
export interface Promotion {
  fromEnvironment: string;
  /** The ledger entry of the verified release (its run id). */
  entryId: string;
  /** The fly.toml staging verified the image with; absent when that run kept none. */
  flyConfig?: FlyConfigSnapshot;
}

export class PromotionRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PromotionRefused';
  }
}

/**
 * The release to promote: the given image, or the newest one the source environment verified.
 * Only `verified` counts (Flightdeck deployed it and it passed health, smoke and bake there).
 */
export function choosePromotion(entries: LedgerEntry[], source: { app: string; environment: string }, options: { image?: string; soakMs: number; nowMs: number }): LedgerEntry {
  const where = `${source.app}/${source.environment}`;
  const verified = entries
    .filter((e) => e.verdict === 'verified' && e.kind !== 'adopted' && !hasFailedVerdict(entries, e.image))
    .filter((e) => options.image === undefined || e.image === options.image)
    .sort((a, b) => (b.finishedAt ?? b.startedAt).localeCompare(a.finishedAt ?? a.startedAt));
  const chosen = verified[0];
  if (!chosen) {
    throw new PromotionRefused(options.image
      ? `${options.image} is not a release ${where} has verified (or it failed there since): only an image Flightdeck deployed and verified there can be promoted`
      : `${where} has no verified release to promote: deploy there first, and let it pass health, smoke and bake`);
  }
  const verifiedAtMs = Date.parse(chosen.finishedAt ?? chosen.startedAt);
  const promotableAtMs = verifiedAtMs + options.soakMs;
  if (options.nowMs < promotableAtMs) {
    throw new PromotionRefused(`${chosen.image} was verified in ${where} at ${new Date(verifiedAtMs).toISOString()}; it must soak there until `
      + `${new Date(promotableAtMs).toISOString()} (${Math.ceil((promotableAtMs - options.nowMs) / 60_000)} min from now) before it is promoted`);
  }
  return chosen;
}

// ---------------------------------------------------------------- automatic promotion

/** A release offered for automatic promotion: verified in the source environment, promotable from `promotableAt`. */
export interface PromotionCandidate {
  /** The source ledger entry (the verifying run's id). */
  entryId: string;
  image: string;
  promotableAt: string;
}

/** What became of a candidate once its soak was over. */
export interface AutoPromotionOutcome extends PromotionCandidate {
  outcome: 'requested' | 'refused' | 'skipped';
  /** The production run, when requested. */
  workflowId?: string;
  detail?: string;
}

export interface AutoPromotionStatus {
  /** Soaking: promoted at promotableAt unless a newer release replaces it or the source moves off it. */
  waiting?: PromotionCandidate;
  /** Entry ids replaced by a newer verified release before their soak was over, newest last. */
  superseded: string[];
  last?: AutoPromotionOutcome;
}

export const promotionCandidateSignal = defineSignal<[PromotionCandidate]>('promotionCandidate');
export const autoPromotionStatusQuery = defineQuery<AutoPromotionStatus>('autoPromotionStatus');

/** One waiting promotion per app and target environment. */
export function autoPromotionId(app: string, to: string): string {
  return `promotion/${app}/${to}`;
}

/** The environments that promote `from`'s verified releases by themselves, with their soak. */
export function autoPromotionsFrom(environments: Record<string, { promotion?: { from: string; soak: string; auto: boolean } }>, from: string): Array<{ to: string; soak: string }> {
  return Object.entries(environments)
    .filter(([, env]) => env.promotion?.auto && env.promotion.from === from)
    .map(([to, env]) => ({ to, soak: env.promotion!.soak }));
}

/**
 * Once soaked, a candidate is promoted only while the source still runs it as its newest good release:
 * a rollback there since (to an older release) or a newer verified release means it is not the one.
 */
export function isStillCurrent(entries: LedgerEntry[], candidate: PromotionCandidate): boolean {
  return lastKnownGood(entries)?.image === candidate.image;
}
