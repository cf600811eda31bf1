// Who may call POST /webhooks/ci: a CI holding the shared secret (HMAC over timestamp and body,
// Slack-style, 5-minute window), or a GitHub Actions job holding an OIDC token for our audience,
// authorized for one app and environment by the token's repository and ref claims.
import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import type { AppConfig, EnvironmentConfig, EnvConfig } from '../lib/config.js';
import { forbidden } from './httpErrors.js';
import { verifyTimestampedSignature } from './signatures.js';
import { header } from './validation.js';

export const CI_TIMESTAMP_HEADER = 'X-Flightdeck-Timestamp';
export const CI_SIGNATURE_HEADER = 'X-Flightdeck-Signature';

export type CiCaller =
  | { method: 'hmac'; actor: string; replayKey: string }
  | { method: 'oidc'; actor: string; replayKey: string; claims: JWTPayload & { repository: string; ref: string } };

/** A refusal to authenticate: counted as a signature failure, answered 401 with the reason. */
export class CiAuthenticationError extends Error {}

export interface CiAuthenticator {
  authenticate(request: FastifyRequest, rawBody: Buffer): Promise<CiCaller>;
}

export function createCiAuthenticator(env: EnvConfig, now: () => number): CiAuthenticator {
  const jwksUrl = new URL(env.CI_OIDC_JWKS_URL ?? `${env.CI_OIDC_ISSUER.replace(/\/$/, '')}/.well-known/jwks`);
  // Fetched on first use and cached by jose (refetched when a token names an unknown key id).
  const jwks = createRemoteJWKSet(jwksUrl, { timeoutDuration: 5000 });

  /** jti → when the token expires: a token is used once, then refused until it has expired anyway. */
  const usedTokenIds = new Map<string, number>();

  function useTokenOnce(payload: JWTPayload): void {
    if (typeof payload.jti !== 'string' || payload.jti === '') throw new CiAuthenticationError('the OIDC token has no jti claim, so its reuse could not be refused');
    const nowMs = now();
    for (const [jti, expiresMs] of usedTokenIds) if (expiresMs <= nowMs) usedTokenIds.delete(jti);
    if (usedTokenIds.has(payload.jti)) throw new CiAuthenticationError(`the OIDC token ${payload.jti} was already used; request a fresh token for each call`);
    usedTokenIds.set(payload.jti, (payload.exp ?? nowMs / 1000 + 3600) * 1000);
  }

  async function authenticateOidc(token: string, rawBody: Buffer): Promise<CiCaller> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, jwks, {
        issuer: env.CI_OIDC_ISSUER, audience: env.CI_OIDC_AUDIENCE, currentDate: new Date(now()), algorithms: ['RS256', 'ES256'],
      }));
    } catch (err) {
      throw new CiAuthenticationError(`the OIDC token was refused: ${(err as Error).message}`);
    }
    const { repository, ref } = payload;
    if (typeof repository !== 'string' || typeof ref !== 'string') throw new CiAuthenticationError('the OIDC token has no repository or ref claim');
    useTokenOnce(payload);
    return {
      method: 'oidc', actor: `github-actions:${typeof payload.actor === 'string' ? payload.actor : repository}`,
      // A token is used once (its jti is remembered); the run is deduplicated on the signed body.
      replayKey: `oidc:${sha256Hex(rawBody).slice(0, 32)}`,
      claims: { ...payload, repository, ref },
    };
  }

  function authenticateHmac(request: FastifyRequest, rawBody: Buffer): CiCaller {
    if (!env.CI_WEBHOOK_SECRET) throw new CiAuthenticationError('HMAC signing is not configured (CI_WEBHOOK_SECRET); send a GitHub Actions OIDC token as a Bearer token instead');
    const signature = header(request, CI_SIGNATURE_HEADER);
    const verdict = verifyTimestampedSignature({ rawBody, timestamp: header(request, CI_TIMESTAMP_HEADER), signature, secret: env.CI_WEBHOOK_SECRET, nowMs: now() });
    if (!verdict.isValid) throw new CiAuthenticationError(`${CI_SIGNATURE_HEADER} refused: ${verdict.reason}`);
    // Deduplicated on the signed body: the same request, re-signed or replayed within the window (with
    // any unsigned header, Idempotency-Key included), finds the run it started.
    return { method: 'hmac', actor: 'ci', replayKey: `hmac:${sha256Hex(rawBody).slice(0, 32)}` };
  }

  return {
    async authenticate(request, rawBody) {
      const authorization = header(request, 'authorization');
      if (authorization?.startsWith('Bearer ')) return authenticateOidc(authorization.slice('Bearer '.length).trim(), rawBody);
      return authenticateHmac(request, rawBody);
    },
  };
}

/**
 * An OIDC caller may deploy an app only from its own repository and the environment's branch, and
 * only the commit its token was issued for: a leaked token deploys nothing else.
 */
export function authorizeOidcCaller(
  caller: CiCaller, appName: string, app: AppConfig, environment: string, env: EnvironmentConfig, request: { sha: string; ref?: string; image?: string },
): void {
  if (caller.method !== 'oidc') return;
  const repository = app.github?.repository;
  if (!repository) throw forbidden(`app "${appName}" has no github.repository in the config, so no OIDC token is authorized to deploy it`);
  if (caller.claims.repository.toLowerCase() !== repository.toLowerCase()) {
    throw forbidden(`the token's repository ${caller.claims.repository} may not deploy app "${appName}" (configured: ${repository})`);
  }
  if (!env.branch) throw forbidden(`${appName}/${environment} has no branch in the config, so no OIDC token is authorized to deploy it`);
  const expectedRef = `refs/heads/${env.branch}`;
  if (caller.claims.ref !== expectedRef) throw forbidden(`the token's ref ${caller.claims.ref} may not deploy ${appName}/${environment} (only ${expectedRef})`);
  const tokenSha = caller.claims.sha;
  if (typeof tokenSha === 'string' && tokenSha.toLowerCase() !== request.sha.toLowerCase()) {
    throw forbidden(`the token was issued for commit ${tokenSha}; it may deploy only that commit, not ${request.sha}`);
  }
  if (request.ref !== undefined && request.ref !== env.branch && request.ref !== expectedRef) {
    throw forbidden(`a token for ${expectedRef} may deploy only that branch, not ref ${request.ref}`);
  }
  assertPinnedClaims(caller.claims, app);
  // A prebuilt image skips tests and build: only one the job pushed to the app's own Fly registry,
  // tagged with the commit the token was issued for.
  const ownRegistry = `registry.fly.io/${env.flyApp}`;
  if (request.image !== undefined && !request.image.startsWith(`${ownRegistry}:`) && !request.image.startsWith(`${ownRegistry}@`)) {
    throw forbidden(`an OIDC caller may deploy only images from ${ownRegistry}, not ${request.image}`);
  }
  if (request.image !== undefined && !isTaggedWithCommit(request.image, tokenSha)) {
    throw forbidden(`an OIDC caller's image must be tagged with the token's commit (${typeof tokenSha === 'string' ? tokenSha.slice(0, 12) : 'the token has no sha claim'}), not ${request.image}`);
  }
}

/** The optional pins of apps.<app>.github: a token from another workflow, event or (renamed) repository is refused. */
function assertPinnedClaims(claims: JWTPayload, app: AppConfig): void {
  const pins = app.github;
  if (pins?.jobWorkflowRef !== undefined && claims.job_workflow_ref !== pins.jobWorkflowRef) {
    throw forbidden(`the token's job_workflow_ref ${String(claims.job_workflow_ref)} is not ${pins.jobWorkflowRef}`);
  }
  if (pins?.eventNames !== undefined && !pins.eventNames.includes(String(claims.event_name))) {
    throw forbidden(`the token's event_name ${String(claims.event_name)} is not one of ${pins.eventNames.join(', ')}`);
  }
  if (pins?.repositoryId !== undefined && String(claims.repository_id) !== pins.repositoryId) {
    throw forbidden(`the token's repository_id ${String(claims.repository_id)} is not ${pins.repositoryId}`);
  }
}

/** registry.fly.io/shop:<tag>: the tag holds the commit (its first 12 characters at least). */
function isTaggedWithCommit(image: string, sha: unknown): boolean {
  if (typeof sha !== 'string' || sha.length < 12) return false;
  const tag = /:([^:/@]+)$/.exec(image)?.[1];
  return tag !== undefined && tag.toLowerCase().includes(sha.slice(0, 12).toLowerCase());
}

function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
