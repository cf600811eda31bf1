// Slack signs every request (v0 HMAC over timestamp and raw body, ±5 minutes). A valid signature is
// accepted once: the same signed request seen again within its window is a replay and is refused.
import type { FastifyRequest } from 'fastify';
import type { ApiDeps } from '../deps.js';
import { unauthorized } from '../httpErrors.js';
import { SIGNATURE_WINDOW_SECONDS, verifyTimestampedSignature } from '../signatures.js';
import { clientAddress, header } from '../validation.js';

export interface VerifiedSlackRequest {
  rawBody: Buffer;
  /** Unique per signed request: the delivery id of what it starts, so even another replica dedupes. */
  requestKey: string;
}

const WINDOW_MS = SIGNATURE_WINDOW_SECONDS * 1000;
/** Bounds memory under a flood of validly signed requests (only Slack can sign them). */
const MAX_REMEMBERED = 100_000;

export function createSlackVerifier(deps: Pick<ApiDeps, 'env' | 'now' | 'metrics' | 'logger'>) {
  /** signature → when it may be forgotten (its timestamp is then out of the window anyway). */
  const seenUntil = new Map<string, number>();

  function refuse(request: FastifyRequest, reason: string): never {
    deps.metrics.signatureFailures.inc({ source: 'slack' });
    deps.logger.warn({ ip: clientAddress(request, deps.env), route: request.routeOptions.url, reason }, 'Slack request refused');
    throw unauthorized(`Slack request refused: ${reason}`);
  }

  function rememberOnce(signature: string, nowMs: number): boolean {
    for (const [key, until] of seenUntil) {
      if (until > nowMs && seenUntil.size < MAX_REMEMBERED) break;
      seenUntil.delete(key);
    }
    if (seenUntil.has(signature)) return false;
    // Map order is insertion order, and requests arrive roughly in time order: the oldest go first above.
    seenUntil.set(signature, nowMs + 2 * WINDOW_MS);
    return true;
  }

  return {
    /** The raw body of a request Slack signed, or a 401 that says why not. */
    verify(request: FastifyRequest): VerifiedSlackRequest {
      const secret = deps.env.SLACK_SIGNING_SECRET;
      if (!secret) refuse(request, 'SLACK_SIGNING_SECRET is not configured, so no Slack request can be verified');
      const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const signature = header(request, 'x-slack-signature');
      const nowMs = deps.now();
      const verdict = verifyTimestampedSignature({ rawBody, timestamp: header(request, 'x-slack-request-timestamp'), signature, secret, nowMs });
      if (!verdict.isValid) refuse(request, verdict.reason);
      if (!rememberOnce(signature!, nowMs)) refuse(request, 'this signed request was already received (a replay)');
      return { rawBody, requestKey: signature!.slice(3, 27) };
    },
  };
}
