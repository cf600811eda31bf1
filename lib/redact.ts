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

const PATTERNS: Array<[RegExp, string]> = [
  // scheme://user:password@host  →  scheme://user:[REDACTED]@host
  [/([a-z][a-z0-9+.-]*:\/\/[^:/?#\s@]*:)[^@\s/]+@/gi, `$1${REDACTED}@`],
  // libpq keyword form: password=secret
  [/\b(password\s*=\s*)('[^']*'|[^\s]+)/gi, `$1${REDACTED}`],
  [/\b(Bearer|FlyV1)\s+[A-Za-z0-9._~+/=,-]+/g, `$1 ${REDACTED}`],
  [/\bxox[abposr]-[A-Za-z0-9-]+/g, REDACTED],
  [/\bgh[pousr]_[A-Za-z0-9]{20,}/g, REDACTED],
  [/\bfm[12][ar]?_[A-Za-z0-9_+/=-]{10,}/g, REDACTED],
];

export function redactText(text: string): string {
  let result = text;
  // Longest first, so a secret that contains another is replaced whole.
  for (const secret of [...registeredSecrets].sort((a, b) => b.length - a.length)) {
    result = result.split(secret).join(REDACTED);
  }
  for (const [pattern, replacement] of PATTERNS) result = result.replace(pattern, replacement);
  return result;
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
