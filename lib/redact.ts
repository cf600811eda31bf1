// Redaction of secret values from any text that may reach logs, Temporal history or Slack.
// Temporal persists history forever: a secret that slips into an error message is leaked for good.

const REDACTED = '[REDACTED]';
const registeredSecrets = new Set<string>();

/** Values shorter than this are too likely to collide with ordinary words to replace blindly. */
const MIN_SECRET_LENGTH = 6;

/** Registers values (tokens, passwords) that must never be printed; config loading calls this. */
export function registerSecretValues(values: Iterable<string | undefined>): void {
  for (const value of values) {
    if (!value || value.length < MIN_SECRET_LENGTH) continue;
    registeredSecrets.add(value);
    // A password also appears percent-encoded inside connection strings.
    const encoded = encodeURIComponent(value);
    if (encoded !== value) registeredSecrets.add(encoded);
  }
}

// Every pattern runs in linear time on any input, which may be a hostile command's output: a pattern
// can start only at a fixed literal or a word boundary, each quantifier before a further requirement is
// bounded (so a failed attempt costs a bounded number of steps), and an unbounded run comes only last,
// where it ends the match instead of being backtracked over.
const PATTERNS: Array<[RegExp, string]> = [
  // scheme://user:password@host  →  scheme://user:[REDACTED]@host
  [/\b([a-z][a-z0-9+.-]{0,31}:\/\/[^:/?#\s@]{0,256}:)[^@\s/]{1,1024}@/gi, `$1${REDACTED}@`],
  // libpq keyword form: password=secret; SQL: PASSWORD 'secret'
  [/\b(password[ \t]{0,16}=[ \t]{0,16})(?:'[^'\n]{0,1024}'|[^\s']+)/gi, `$1${REDACTED}`],
  [/\b(password[ \t]{1,16})'[^'\n]{0,1024}'/gi, `$1'${REDACTED}'`],
  [/\b(Bearer|FlyV1)[ \t]{1,16}[A-Za-z0-9._~+/=,-]+/g, `$1 ${REDACTED}`],
  [/\bxox[abposr]-[A-Za-z0-9-]+/g, REDACTED],
  [/\bgh[pousr]_[A-Za-z0-9]{20}[A-Za-z0-9]*/g, REDACTED],
  [/\bfm[12][ar]?_[A-Za-z0-9_+/=-]{10}[A-Za-z0-9_+/=-]*/g, REDACTED],
];

/** Longer lines are cut (after redaction) to this many characters: nobody reads them, and nothing parses them. */
export const MAX_LINE_CHARS = 1024 * 1024;

export function redactText(text: string): string {
  let result = text;
  // Longest first, so a secret that contains another is replaced whole.
  for (const secret of [...registeredSecrets].sort((a, b) => b.length - a.length)) {
    result = result.split(secret).join(REDACTED);
  }
  for (const [pattern, replacement] of PATTERNS) result = result.replace(pattern, replacement);
  return capLines(result);
}

/** Cuts over-long lines; what is cut is replaced by a note, never left half a token long. */
function capLines(text: string): string {
  if (text.length <= MAX_LINE_CHARS) return text;
  let hasLongLine = false;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.length <= MAX_LINE_CHARS) continue;
    hasLongLine = true;
    lines[i] = cutLine(line, MAX_LINE_CHARS);
  }
  return hasLongLine ? lines.join('\n') : text;
}

/** The first maxChars of a line, without the word the cut falls into (it may be part of a token). */
export function cutLine(line: string, maxChars: number): string {
  let end = maxChars;
  while (end > 0 && !/\s/.test(line[end - 1]!) && maxChars - end < 256) end--;
  if (end > 0 && !/\s/.test(line[end - 1]!)) end = 0;
  return `${line.slice(0, end)}[${line.length - end} more characters cut]`;
}

const SECRET_KEY = /pass(word)?|secret|token|api[-_]?key|authorization|cookie|credential|private[-_]?key|database_?url|connection_?string/i;

/** Deep copy with secret-named keys blanked and every string redacted. */
export function redactValue<T>(value: T, depth = 0): T {
  if (depth > 8) return value;
  if (typeof value === 'string') return redactText(value) as T;
  if (Array.isArray(value)) return value.map((item) => redactValue(item, depth + 1)) as T;
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    if (value instanceof Error) return redactValue({ type: value.name, message: value.message, stack: value.stack }, depth + 1) as T;
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      out[key] = SECRET_KEY.test(key) && typeof item === 'string' ? REDACTED : redactValue(item, depth + 1);
    }
    return out as T;
  }
  return value;
}
