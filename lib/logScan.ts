// `fly logs --json` read the way the runbooks grep it (`fly logs | grep -i "error\|fatal\|panic"`):
// the lines in a time range, how many match the patterns, and a few samples. Pure: the activity
// runs flyctl, this counts.
import { cutLine } from './redact.js';

export interface LogEntry { timestamp: string; level: string; message: string; instance: string }

/** flyctl prints concatenated pretty-printed objects (not NDJSON): each starts with "{" at a line's start. */
export function parseLogEntries(stdout: string): LogEntry[] {
  const entries: LogEntry[] = [];
  for (const chunk of stdout.split(/\n(?=\{)/)) {
    if (!chunk.trim().startsWith('{')) continue;
    try {
      const raw = JSON.parse(chunk) as Partial<Record<keyof LogEntry, unknown>>;
      entries.push({ timestamp: String(raw.timestamp ?? ''), level: String(raw.level ?? ''), message: String(raw.message ?? ''), instance: String(raw.instance ?? '') });
    } catch {
      // A line flyctl printed that is not an entry (a warning): not a log line of the app.
    }
  }
  return entries;
}

export interface LogScanInput {
  patterns: string[];
  /** Only lines strictly after / at or before these instants (ISO). */
  after?: string;
  notAfter?: string;
  /** How many matching lines to keep as samples (newest last). */
  samples: number;
}

export interface LogScan {
  /** Lines in the range, and how many of them match. */
  lines: number;
  matches: number;
  samples: string[];
  /** Timestamps of the oldest and newest line in the range (absent: no line). */
  oldest?: string;
  newest?: string;
}

/** A line matches when its level or message matches a pattern, case-insensitively (as `grep -i` on the text output). */
export function scanLogEntries(entries: LogEntry[], input: LogScanInput): LogScan {
  const pattern = new RegExp(input.patterns.map((p) => `(?:${p})`).join('|'), 'i');
  const after = input.after ? Date.parse(input.after) : -Infinity;
  const notAfter = input.notAfter ? Date.parse(input.notAfter) : Infinity;
  const inRange = entries.filter((e) => { const at = Date.parse(e.timestamp); return at > after && at <= notAfter; })
    .sort((a, b) => Date.parse(a.timestamp) - Date.parse(b.timestamp));
  const matching = inRange.filter((e) => pattern.test(`${e.level} ${e.message}`));
  return {
    lines: inRange.length,
    matches: matching.length,
    samples: matching.slice(-input.samples).map((e) => sampleLine(`${e.timestamp} ${e.instance} [${e.level}] ${e.message}`)),
    oldest: inRange[0]?.timestamp,
    newest: inRange.at(-1)?.timestamp,
  };
}

const SAMPLE_CHARS = 200;

function sampleLine(line: string): string {
  return line.length > SAMPLE_CHARS ? cutLine(line, SAMPLE_CHARS) : line;
}
