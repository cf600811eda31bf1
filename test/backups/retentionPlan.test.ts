// The prune plan, tested by its properties over many seeded random catalogs: whatever the mix of
// verified, failed and unverified backups and their ages, the rules hold.
import { describe, expect, it } from 'vitest';
import { IN_PROGRESS_GRACE_MS, planRetention, type RetentionCandidate, type RetentionPlan, type RetentionPolicy } from '../../activities/backup/retention.js';

const DAY_MS = 86_400_000;
const NOW = new Date('2026-11-22T02:00:00Z');

/** mulberry32: small, seedable, good enough to spread test cases. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface Scenario {
  candidates: RetentionCandidate[];
  policy: RetentionPolicy;
}

function randomScenario(random: () => number): Scenario {
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
  const count = Math.floor(random() * 40);
  const candidates = Array.from({ length: count }, (_, i): RetentionCandidate => ({
    backupId: `db-${i}`,
    createdAt: new Date(NOW.getTime() - Math.floor(random() * 90 * DAY_MS)).toISOString(),
    status: pick(['verified', 'verified', 'failed', 'unverified'] as const),
  }));
  const policy = { maxAge: pick(['1d', '7d', '30d', '60d']), maxCount: 1 + Math.floor(random() * 30), minVerified: 1 + Math.floor(random() * 5) };
  return { candidates, policy };
}

const ageDays = (c: RetentionCandidate) => (NOW.getTime() - Date.parse(c.createdAt)) / DAY_MS;
const maxAgeDays = (policy: RetentionPolicy) => Number(policy.maxAge.replace('d', ''));
const newestFirst = (list: RetentionCandidate[]) => [...list].sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.backupId.localeCompare(a.backupId));

function forEachScenario(check: (scenario: Scenario, plan: RetentionPlan) => void): void {
  for (let seed = 1; seed <= 500; seed++) {
    const scenario = randomScenario(seededRandom(seed));
    const plan = planRetention(scenario.candidates, scenario.policy, NOW);
    try {
      check(scenario, plan);
    } catch (err) {
      throw new Error(`seed ${seed}: ${(err as Error).message}\n${JSON.stringify(scenario)}`);
    }
  }
}

describe('the retention plan', () => {
  it('decides every backup exactly once', () => {
    forEachScenario(({ candidates }, plan) => {
      const decided = [...plan.keep, ...plan.delete].map((d) => d.backupId).sort();
      expect(decided).toEqual(candidates.map((c) => c.backupId).sort());
    });
  });

  it('never leaves fewer than K verified backups, and failed or unverified ones never count', () => {
    forEachScenario(({ candidates, policy }, plan) => {
      const verified = candidates.filter((c) => c.status === 'verified').length;
      const keptVerified = plan.keep.filter((d) => d.status === 'verified').length;
      expect(keptVerified).toBeGreaterThanOrEqual(Math.min(policy.minVerified, verified));
      expect(plan.verifiedKept).toBe(keptVerified);
    });
  });

  it('never deletes the newest verified backup', () => {
    forEachScenario(({ candidates }, plan) => {
      const newestVerified = newestFirst(candidates).find((c) => c.status === 'verified');
      if (newestVerified) expect(plan.delete.map((d) => d.backupId)).not.toContain(newestVerified.backupId);
    });
  });

  it('deletes only what is too old or beyond the count, and keeps nothing too old unless it is protected', () => {
    forEachScenario(({ candidates, policy }, plan) => {
      const byId = new Map(candidates.map((c) => [c.backupId, c]));
      const protectedIds = new Set(newestFirst(candidates).filter((c) => c.status === 'verified').slice(0, policy.minVerified).map((c) => c.backupId));
      for (const decision of plan.delete) {
        const candidate = byId.get(decision.backupId)!;
        const newerKept = plan.keep.filter((d) => byId.get(d.backupId)!.createdAt >= candidate.createdAt).length;
        expect(ageDays(candidate) > maxAgeDays(policy) || newerKept >= policy.maxCount).toBe(true);
      }
      for (const decision of plan.keep) {
        const candidate = byId.get(decision.backupId)!;
        const isInProgress = candidate.status === 'unverified' && ageDays(candidate) * DAY_MS < IN_PROGRESS_GRACE_MS;
        if (ageDays(candidate) > maxAgeDays(policy)) expect(protectedIds.has(candidate.backupId) || isInProgress).toBe(true);
      }
    });
  });

  it('keeps at most maxCount backups besides the protected verified and in-progress ones', () => {
    forEachScenario(({ candidates, policy }, plan) => {
      const ordinary = plan.keep.filter((d) => d.reason === 'within age and count limits');
      expect(ordinary.length).toBeLessThanOrEqual(policy.maxCount);
      const unverified = candidates.filter((c) => c.status === 'unverified').length;
      expect(plan.keep.length).toBeLessThanOrEqual(policy.maxCount + policy.minVerified + unverified);
    });
  });

  it('keeps old verified backups when every newer backup failed', () => {
    const failedRecently = Array.from({ length: 10 }, (_, i) => ({ backupId: `failed-${i}`, createdAt: new Date(NOW.getTime() - (i + 2) * DAY_MS).toISOString(), status: 'failed' as const }));
    const oldVerified = Array.from({ length: 5 }, (_, i) => ({ backupId: `verified-${i}`, createdAt: new Date(NOW.getTime() - (40 + i) * DAY_MS).toISOString(), status: 'verified' as const }));
    const plan = planRetention([...failedRecently, ...oldVerified], { maxAge: '30d', maxCount: 5, minVerified: 3 }, NOW);
    expect(plan.keep.filter((d) => d.status === 'verified').map((d) => d.backupId)).toEqual(['verified-0', 'verified-1', 'verified-2']);
    expect(plan.delete.map((d) => d.backupId)).toEqual(expect.arrayContaining(['verified-3', 'verified-4', 'failed-5', 'failed-9']));
  });
});
