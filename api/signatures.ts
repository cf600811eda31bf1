// Request authentication primitives: HMAC signatures over raw bytes and secret comparison, all in
// constant time so a forger learns nothing from how long a refusal takes.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export function hmacSha256Hex(secret: string, data: Buffer | string): string {
  return createHmac('sha256', secret).update(data).digest('hex');
}

/**
 * Compares two secrets or signatures without leaking where they differ. Both sides are hashed
 * first: timingSafeEqual needs equal lengths, and hashing hides the expected length too.
 */
export function isSameSecret(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** GitHub's X-Hub-Signature-256: `sha256=` + HMAC-SHA256(secret, raw body) in hex; any of the secrets (rotation). */
export function isValidGitHubSignature(rawBody: Buffer, header: string | undefined, secrets: string[]): boolean {
  if (!header || !header.startsWith('sha256=')) return false;
  // Every secret is checked (no early exit), so timing does not tell which one matched.
  let isValid = false;
  for (const secret of secrets) {
    if (isSameSecret(header, `sha256=${hmacSha256Hex(secret, rawBody)}`)) isValid = true;
  }
  return isValid;
}

export const SIGNATURE_WINDOW_SECONDS = 300;

export type TimestampedSignatureVerdict = { isValid: true } | { isValid: false; reason: string };

/**
 * Slack-style signing: `v0=` + HMAC-SHA256(secret, `v0:${timestamp}:${raw body}`), with the
 * timestamp (Unix seconds) within ±5 minutes of now so a captured request cannot be replayed later.
 */
export function verifyTimestampedSignature(options: {
  rawBody: Buffer; timestamp: string | undefined; signature: string | undefined; secret: string; nowMs: number;
}): TimestampedSignatureVerdict {
  const { rawBody, timestamp, signature, secret, nowMs } = options;
  if (!timestamp || !signature) return { isValid: false, reason: 'missing signature or timestamp header' };
  if (!/^\d{1,12}$/.test(timestamp)) return { isValid: false, reason: 'the timestamp is not Unix seconds' };
  const skewSeconds = Math.abs(nowMs / 1000 - Number(timestamp));
  if (skewSeconds > SIGNATURE_WINDOW_SECONDS) {
    return { isValid: false, reason: `the timestamp is ${Math.round(skewSeconds)} s from now (at most ${SIGNATURE_WINDOW_SECONDS} s allowed)` };
  }
  const expected = `v0=${hmacSha256Hex(secret, Buffer.concat([Buffer.from(`v0:${timestamp}:`), rawBody]))}`;
  return isSameSecret(signature, expected) ? { isValid: true } : { isValid: false, reason: 'the signature does not match' };
}
