// Which backups to delete. Pure: the plan is computed and reported before anything is deleted.
// Only verified backups count as backups: the K newest verified are never deleted (so neither is the
// newest), whatever their age, and failed or unverified ones never stand in for them.
import { durationToMs } from '../../lib/validate.js';

export interface RetentionCandidate {
  backupId: string;
  createdAt: string;
  status: 'verified' | 'failed' | 'unverified';
  /** Runs that need the backup (a restore in progress): a held backup is never deleted. */
  holds?: ReadonlyArray<{ holder: string }>;
}

export interface RetentionPolicy {
  /** A duration string as in the config file: 30d, 12h. */
  maxAge: string;
  /** Backups kept by count, newest first (the protected verified ones included). */
  maxCount: number;
  /** Verified backups that always remain (K). */
  minVerified: number;
}

export interface RetentionDecision {
  backupId: string;
  status: RetentionCandidate['status'];
  reason: string;
}

export interface RetentionPlan {
  keep: RetentionDecision[];
  delete: RetentionDecision[];
  verifiedKept: number;
}

/** An unverified backup this young may belong to a run still in progress. */
export const IN_PROGRESS_GRACE_MS = 24 * 3_600_000;

export function planRetention(candidates: readonly RetentionCandidate[], policy: RetentionPolicy, now: Date): RetentionPlan {
  const newestFirst = [...candidates].sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.backupId.localeCompare(a.backupId));
  const protectedIds = new Set(newestFirst.filter((c) => c.status === 'verified').slice(0, policy.minVerified).map((c) => c.backupId));
  const maxAgeMs = durationToMs(policy.maxAge);
  const plan: RetentionPlan = { keep: [], delete: [], verifiedKept: 0 };
  const keep = (c: RetentionCandidate, reason: string) => {
    plan.keep.push({ backupId: c.backupId, status: c.status, reason });
    if (c.status === 'verified') plan.verifiedKept++;
  };
  const remove = (c: RetentionCandidate, reason: string) => plan.delete.push({ backupId: c.backupId, status: c.status, reason });

  for (const candidate of newestFirst) {
    const ageMs = now.getTime() - Date.parse(candidate.createdAt);
    if (candidate.holds?.length) keep(candidate, `held by ${candidate.holds.map((h) => h.holder).join(', ')}`);
    else if (protectedIds.has(candidate.backupId)) keep(candidate, `one of the ${policy.minVerified} newest verified backups`);
    else if (candidate.status === 'unverified' && ageMs < IN_PROGRESS_GRACE_MS) keep(candidate, 'unverified and recent: may still be in progress');
    else if (ageMs > maxAgeMs) remove(candidate, `older than ${policy.maxAge}`);
    else if (plan.keep.length >= policy.maxCount) remove(candidate, `beyond the newest ${policy.maxCount} backups`);
    else keep(candidate, 'within age and count limits');
  }
  return plan;
}

