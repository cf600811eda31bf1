// The recorded workflow histories (test/replay/histories/<workflowType>/<scenario>.json, written by
// scripts/recordHistories.ts): loading them, telling which were in flight, and scanning them for
// anything that looks like a credential (payloads are base64: they are decoded before the scan).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { History } from '@temporalio/common/lib/proto-utils.js';
import { historyFromJSON } from '../../scripts/replay/historyJson.js';

export const HISTORIES_DIR = fileURLToPath(new URL('./histories', import.meta.url));

export interface HistoryFixture {
  /** "<workflowType>/<scenario>", as replay errors name it. */
  name: string;
  workflowType: string;
  scenario: string;
  file: string;
  /** The JSON as stored (as `temporal workflow show -o json` prints it). */
  json: unknown;
}

export interface RecordedRun {
  /** "<workflowType>/<scenario>" */
  name: string;
  /** Replayed under the same id: child workflow ids are derived from it. */
  workflowId: string;
  runId: string;
}

export interface FixtureManifest {
  /** The commit whose workflow code made these histories. */
  commit: string;
  recordedAt: string;
  /** Every workflow the recorded commit's worker registered: each needs at least one fixture. */
  workflowTypes: string[];
  fixtures: RecordedRun[];
}

export function loadFixtures(dir = HISTORIES_DIR): HistoryFixture[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory() && !d.name.startsWith('.')).sort((a, b) => a.name.localeCompare(b.name)).flatMap((type) =>
    fs.readdirSync(path.join(dir, type.name)).filter((f) => f.endsWith('.json')).sort().map((f) => {
      const file = path.join(dir, type.name, f);
      const scenario = f.slice(0, -'.json'.length);
      return { name: `${type.name}/${scenario}`, workflowType: type.name, scenario, file, json: JSON.parse(fs.readFileSync(file, 'utf8')) as unknown };
    }));
}

export function readManifest(dir = HISTORIES_DIR): FixtureManifest {
  return JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as FixtureManifest;
}

export function parseHistory(fixture: HistoryFixture): History {
  return historyFromJSON(fixture.json);
}

type Event = NonNullable<History['events']>[number];

/** The workflow type named by the history's first event. */
export function startedWorkflowType(history: History): string | undefined {
  return history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? undefined;
}

const CLOSING_EVENTS: Array<keyof Event> = [
  'workflowExecutionCompletedEventAttributes', 'workflowExecutionFailedEventAttributes', 'workflowExecutionCanceledEventAttributes',
  'workflowExecutionTerminatedEventAttributes', 'workflowExecutionTimedOutEventAttributes', 'workflowExecutionContinuedAsNewEventAttributes',
];

/** How the recorded run ended: 'in flight' when the history was taken while it was still running. */
export function closingOf(history: History): string {
  const last = history.events?.at(-1);
  const closing = last ? CLOSING_EVENTS.find((key) => last[key]) : undefined;
  return closing ? closing.replace(/^workflowExecution|EventAttributes$/g, '').toLowerCase() : 'in flight';
}

/** The fixture's text with every payload decoded, as anyone reading the history would see it. */
export function decodedText(json: unknown): string {
  return JSON.stringify(json, (key, value: unknown) => (key === 'data' && typeof value === 'string' ? Buffer.from(value, 'base64').toString('utf8') : value));
}

/** Credential shapes that must never be in a committed history: tokens, and URLs carrying a password. */
const CREDENTIAL_PATTERNS: Array<[string, RegExp]> = [
  ['a Slack token', /xox[abpr]-[A-Za-z0-9-]+/],
  ['a Fly token', /\b(fo1_|fm1[ar]_|fm2_|FlyV1 )[A-Za-z0-9_-]+/],
  ['a test Fly token', /fly-test-token|test_token_never_in_history/],
  ['a connection string with a password', /\b(postgres(ql)?|mysql|redis|https?):\/\/[^\s:/@"]+:[^\s@/"]+@/],
];

/** Names the credentials found in the text ('' secrets are ignored); empty when clean. */
export function findCredentials(text: string, knownSecrets: string[] = []): string[] {
  const found = CREDENTIAL_PATTERNS.filter(([, pattern]) => pattern.test(text)).map(([what]) => what);
  for (const secret of knownSecrets) if (secret && text.includes(secret)) found.push('a secret of the recording run');
  return found;
}
