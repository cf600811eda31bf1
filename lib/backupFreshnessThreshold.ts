// How old a database's newest verified backup may get before the freshness alarm (backupFreshness.ts)
// fires: configured (freshness.staleAfter), else derived from the backup schedule's cron.
import { CronExpressionParser } from 'cron-parser';
import { durationToMs } from './duration.js';

/** Slack between two scheduled runs and the alarm: a backup takes time, and a run may be retried. */
export const FRESHNESS_MARGIN_MS = 2 * 3_600_000;

/** Look this far ahead for the schedule's runs; a yearly schedule has one gap of a year. */
const LOOKAHEAD_MS = 367 * 86_400_000;
const MAX_OCCURRENCES = 1000;

/** Throws when cron-parser cannot read the schedule (the config refuses it without staleAfter). */
export function assertReadableSchedule(cron: string, timezone: string): void {
  CronExpressionParser.parse(cron, { tz: timezone });
}

/** Walking a year of runs takes cron-parser a few hundred milliseconds: once per schedule per process. */
const longestGapBySchedule = new Map<string, number>();

/**
 * The longest wait between two consecutive runs of a cron schedule, over the next year (DST included:
 * a nightly 02:30 in Europe/Paris has a 25-hour night). Throws when cron-parser cannot read it.
 */
export function longestScheduleGapMs(cron: string, timezone: string, from = new Date()): number {
  const key = JSON.stringify([cron, timezone]);
  const known = longestGapBySchedule.get(key);
  if (known !== undefined) return known;
  const runs = CronExpressionParser.parse(cron, { tz: timezone, currentDate: from });
  let previous = runs.next().getTime();
  let longest = 0;
  for (let count = 0; count < MAX_OCCURRENCES && runs.hasNext(); count++) {
    const next = runs.next().getTime();
    longest = Math.max(longest, next - previous);
    previous = next;
    if (next - from.getTime() > LOOKAHEAD_MS) break;
  }
  // One run a year or less: a year is the gap.
  const gap = longest || LOOKAHEAD_MS;
  longestGapBySchedule.set(key, gap);
  return gap;
}

export interface FreshnessSettings {
  schedule: string;
  timezone: string;
  freshness: { staleAfter?: string; checkEvery: string };
}

/** The configured threshold, else the schedule's longest gap plus the margin (26 h for a nightly schedule). */
export function staleAfterMs(settings: FreshnessSettings, now = new Date()): number {
  if (settings.freshness.staleAfter) return durationToMs(settings.freshness.staleAfter);
  return longestScheduleGapMs(settings.schedule, settings.timezone, now) + FRESHNESS_MARGIN_MS;
}

