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
    return {
      method: 'oidc', actor: `github-actions:${typeof payload.actor === 'string' ? payload.actor : repository}`,
      // One token may be used for several requests; with the body it names one request.
      replayKey: `oidc:${payload.jti ?? token.slice(-16)}:${sha256Hex(rawBody).slice(0, 16)}`,
      claims: { ...payload, repository, ref },
    };
  }

  function authenticateHmac(request: FastifyRequest, rawBody: Buffer): CiCaller {
    if (!env.CI_WEBHOOK_SECRET) throw new CiAuthenticationError('HMAC signing is not configured (CI_WEBHOOK_SECRET); send a GitHub Actions OIDC token as a Bearer token instead');
    const signature = header(request, CI_SIGNATURE_HEADER);
    const verdict = verifyTimestampedSignature({ rawBody, timestamp: header(request, CI_TIMESTAMP_HEADER), signature, secret: env.CI_WEBHOOK_SECRET, nowMs: now() });
    if (!verdict.isValid) throw new CiAuthenticationError(`${CI_SIGNATURE_HEADER} refused: ${verdict.reason}`);
    // Replaying the exact signed request within the window finds the run it started.
    return { method: 'hmac', actor: 'ci', replayKey: `hmac:${signature!.slice(-32)}` };
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
  // A prebuilt image skips tests and build: only one the job pushed to the app's own Fly registry.
  const ownRegistry = `registry.fly.io/${env.flyApp}`;
  if (request.image !== undefined && !request.image.startsWith(`${ownRegistry}:`) && !request.image.startsWith(`${ownRegistry}@`)) {
    throw forbidden(`an OIDC caller may deploy only images from ${ownRegistry}, not ${request.image}`);
  }
}

function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
