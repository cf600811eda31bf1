// The release ledger: every image Flightdeck deploys or rolls back to in an app's environment, with
// the fly.toml it ran with and Flightdeck's own verdict on it. "Last known good" is answered here and
// nowhere else: Fly marks a release `complete` when its rollout finished, which says nothing about
// whether the app worked, so Fly's release list is never the judge.
// Pure and workflow-safe: the ledger workflow, the pipeline, the rollback, the API and the CLI share it.
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { Trigger } from './messages.js';
import type { MigrationFinding } from './migrationSafety.js';

/**
 * - deploying: rolling out or being checked now
 * - verified: passed health, smoke and bake after Flightdeck deployed it
 * - verified-by-probe: found serving (never deployed by Flightdeck) and passed health and smoke then
 * - unverified: found serving, never deployed by Flightdeck, and not proven healthy
 * - failed: a check failed (and it was not rolled back: nothing was rolled out, or the rollback failed)
 * - rolled-back: a check failed and Flightdeck rolled back from it
 * - kept: a check failed and a person chose to keep it
 */
export type ReleaseVerdict = 'deploying' | 'verified' | 'verified-by-probe' | 'unverified' | 'failed' | 'rolled-back' | 'kept';

export type LedgerEntryKind = 'deploy' | 'rollback' | 'adopted';

/** The fly.toml a release was deployed with: a rollback deploys the image with this same config. */
export interface FlyConfigSnapshot {
  content: string;
  sha256: string;
}

export interface LedgerEntry {
  /** The run that wrote it: a pipeline's workflow id, a rollback's `<workflow id>@<run id>`, or `<pipeline id>/adopted`. */
  id: string;
  kind: LedgerEntryKind;
  image: string;
  commit?: string;
  flyConfig?: FlyConfigSnapshot;
  releaseVersion?: number;
  trigger: Trigger;
  startedAt: string;
  finishedAt?: string;
  verdict: ReleaseVerdict;
  /** The failed stage ("smoke"), or the check that proved an adopted image. */
  stage?: string;
  /** Why it failed, was kept, or was forced; one sentence. */
  reason?: string;
  /** rolled-back: the image Flightdeck went back to. */
  rolledBackTo?: string;
  /** A rollback forced onto an image with a failed verdict: why (who forced it is the trigger's actor). */
  forcedBecause?: string;
  /** The migrations this deploy applied, what the linter found in them, and the backup taken before them. */
  migrations?: ReleaseMigrations;
}

/** What "restore to before this deploy" needs: which migrations ran, their findings, and the backup from just before. */
export interface ReleaseMigrations {
  appliedVersions: number[];
  findings: MigrationFinding[];
  /** The verified backup taken before the migrations, in the `databases:` entry backupDatabase. */
  preMigrationBackupId?: string;
  backupDatabase?: string;
}

/** What a run tells the ledger: a new entry, or fields of an entry it wrote before (matched by id). */
export type LedgerRecord = Pick<LedgerEntry, 'id'> & Partial<Omit<LedgerEntry, 'id'>>;

export const recordLedgerEntryUpdate = defineUpdate<LedgerEntry, [LedgerRecord]>('recordLedgerEntry');
/** Newest first. */
export const ledgerEntriesQuery = defineQuery<LedgerEntry[]>('ledgerEntries');

const GOOD_VERDICTS: ReadonlySet<ReleaseVerdict> = new Set(['verified', 'verified-by-probe']);
const BAD_VERDICTS: ReadonlySet<ReleaseVerdict> = new Set(['failed', 'rolled-back', 'kept']);

export function isGoodVerdict(verdict: ReleaseVerdict): boolean {
  return GOOD_VERDICTS.has(verdict);
}

/** An image whose newest verdict is bad: a rollback must not go there unless forced. */
export function hasFailedVerdict(entries: LedgerEntry[], image: string): boolean {
  const newest = newestFirst(entries).find((e) => e.image === image && e.verdict !== 'deploying');
  return newest !== undefined && BAD_VERDICTS.has(newest.verdict);
}

/**
 * Last known good: the newest entry with a good verdict whose image is not excluded (the failing or
 * serving one) and has not failed since it was verified.
 */
export function lastKnownGood(entries: LedgerEntry[], excludedImages: Array<string | undefined> = []): LedgerEntry | undefined {
  const excluded = new Set(excludedImages.filter((i): i is string => Boolean(i)));
  return newestFirst(entries).find((e) => isGoodVerdict(e.verdict) && !excluded.has(e.image) && !hasFailedVerdict(entries, e.image));
}

/** The newest entry for an image (its verdict, config and release). */
export function newestEntryFor(entries: LedgerEntry[], image: string): LedgerEntry | undefined {
  return newestFirst(entries).find((e) => e.image === image);
}

export function isKnownImage(entries: LedgerEntry[], image: string): boolean {
  return entries.some((e) => e.image === image);
}

/** Applies a record: merges into the entry with its id, or adds it in front. Bounded, newest first. */
export function applyLedgerRecord(entries: LedgerEntry[], record: LedgerRecord, maxEntries: number): { entries: LedgerEntry[]; entry: LedgerEntry } {
  const index = entries.findIndex((e) => e.id === record.id);
  if (index >= 0) {
    const entry = { ...entries[index]!, ...withoutUndefined(record) };
    return { entries: entries.map((e, i) => (i === index ? entry : e)), entry };
  }
  const entry = validNewEntry(record);
  return { entries: [entry, ...entries].slice(0, maxEntries), entry };
}

/** A new entry must say what ran and how it started; a partial record of an unknown id is refused. */
export function validateLedgerRecord(entries: LedgerEntry[], record: LedgerRecord): void {
  if (!record.id?.trim()) throw new Error('a ledger record needs the id of the run that writes it');
  if (!entries.some((e) => e.id === record.id)) validNewEntry(record);
}

function validNewEntry(record: LedgerRecord): LedgerEntry {
  const missing = (['kind', 'image', 'trigger', 'startedAt', 'verdict'] as const).filter((k) => record[k] === undefined);
  if (missing.length) throw new Error(`a new ledger entry (${record.id}) needs ${missing.join(', ')}`);
  return withoutUndefined(record) as LedgerEntry;
}

function newestFirst(entries: LedgerEntry[]): LedgerEntry[] {
  return [...entries].sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : 0));
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** One line: why it failed, where it went, who forced it. */
export function describeLedgerEntry(entry: LedgerEntry): string {
  const parts: string[] = [];
  if (entry.stage && entry.verdict !== 'verified' && entry.verdict !== 'deploying') parts.push(`at ${entry.stage}`);
  if (entry.reason && entry.verdict !== 'verified') parts.push(entry.reason);
  if (entry.rolledBackTo) parts.push(`rolled back to ${entry.rolledBackTo.split('/').at(-1)}`);
  if (entry.forcedBecause) parts.push(`forced by ${entry.trigger.actor}: ${entry.forcedBecause}`);
  return parts.join('; ') || '-';
}

export function ledgerWorkflowId(app: string, environment: string): string {
  return `release-ledger/${app}/${environment}`;
}
