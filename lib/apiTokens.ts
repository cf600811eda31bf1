// Who may call the write and read API, and for what. Named tokens live in the apps file as SHA-256
// hashes (never the token itself) with scopes:
//   read                       GET /apps, /runs, /runs/{id}, /backups, releases
//   deploy:<app>/<env>          POST /deploys for that environment (`<app>/*`, or `*`, for more)
//   rollback:<app>/<env>        POST /rollbacks, the same way
//   backup:<db>                 POST /backups (`backup:*` for every database)
// FLIGHTDECK_API_TOKEN, if set, is the legacy token named "default" with every scope.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AppsConfig, EnvConfig } from './config.js';

export type ApiAction = 'read' | 'deploy' | 'rollback' | 'backup';

export interface ApiCaller {
  /** The token's name in the apps file ("default" for FLIGHTDECK_API_TOKEN). */
  name: string;
  scopes: readonly string[];
}

export const LEGACY_TOKEN_SCOPES = ['read', 'deploy:*', 'rollback:*', 'backup:*'] as const;

export function hashApiToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** The caller a bearer token belongs to, or undefined. Every comparison is in constant time. */
export function findApiCaller(config: AppsConfig, env: EnvConfig, token: string): ApiCaller | undefined {
  const presented = Buffer.from(hashApiToken(token), 'hex');
  let found: ApiCaller | undefined;
  for (const [name, entry] of Object.entries(config.apiTokens)) {
    if (timingSafeEqual(presented, Buffer.from(entry.sha256, 'hex'))) found ??= { name, scopes: entry.scopes };
  }
  if (env.FLIGHTDECK_API_TOKEN && timingSafeEqual(presented, Buffer.from(hashApiToken(env.FLIGHTDECK_API_TOKEN), 'hex'))) {
    found ??= { name: 'default', scopes: LEGACY_TOKEN_SCOPES };
  }
  return found;
}

/** Does one of the caller's scopes cover `action` on `target` (app/env for deploy and rollback, a database for backup)? */
export function hasScope(caller: ApiCaller, action: ApiAction, target = ''): boolean {
  return caller.scopes.some((scope) => {
    if (action === 'read') return scope === 'read';
    const [scopeAction, scopeTarget] = splitOnce(scope, ':');
    if (scopeAction !== action || scopeTarget === undefined) return false;
    if (scopeTarget === '*' || scopeTarget === target) return true;
    return scopeTarget.endsWith('/*') && target.startsWith(scopeTarget.slice(0, -1));
  });
}

/** Whether the server has any token at all (else the write API is disabled). */
export function hasAnyApiToken(config: AppsConfig, env: EnvConfig): boolean {
  return Boolean(env.FLIGHTDECK_API_TOKEN) || Object.keys(config.apiTokens).length > 0;
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const index = text.indexOf(separator);
  return index < 0 ? [text, undefined] : [text.slice(0, index), text.slice(index + 1)];
}
