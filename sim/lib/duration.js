// @ts-check
// Go duration strings as flyctl's --wait-timeout accepts them: "5m0s", "90s", "1h2m", "300ms",
// a bare number of seconds, or "none" (no limit).

const UNIT_MS = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Milliseconds for a Go duration; null when it is not one.
 * @param {string} text
 * @returns {number | null}
 */
export function parseGoDuration(text) {
  if (text === '0') return 0;
  const pattern = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let totalMs = 0;
  let consumed = 0;
  for (const match of text.matchAll(pattern)) {
    totalMs += Number(match[1]) * UNIT_MS[/** @type {keyof typeof UNIT_MS} */ (match[2])];
    consumed += match[0].length;
  }
  return consumed > 0 && consumed === text.length ? totalMs : null;
}

/**
 * A flyctl duration flag value in milliseconds (Infinity for "none"), or null when invalid.
 * @param {string} value
 */
export function parseDurationFlag(value) {
  if (value === 'none') return Infinity;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  return parseGoDuration(value);
}

/**
 * Go's time.Duration String(): 5m0s, 30s, 1h0m0s, 500ms.
 * @param {number} ms
 */
export function formatGoDuration(ms) {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const seconds = (ms % 60_000) / 1000;
  if (hours > 0) return `${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${minutes}m${seconds}s`;
  return `${seconds}s`;
}
