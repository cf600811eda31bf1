// The API's authentication: `Authorization: Bearer <token>`, a named token of the apps file (stored as
// its SHA-256) or the legacy FLIGHTDECK_API_TOKEN, each with scopes (lib/apiTokens.ts). The caller may
// name the person it acts for in X-Flightdeck-Actor (audit log); the token's name is its identity.
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { findApiCaller, hasAnyApiToken, hasScope, type ApiAction, type ApiCaller } from '../lib/apiTokens.js';
import { auditLog } from '../lib/audit.js';
import type { ApiDeps } from './deps.js';
import { forbidden, unauthorized } from './httpErrors.js';
import { clientAddress, header, parseRequest } from './validation.js';

export const ACTOR_HEADER = 'X-Flightdeck-Actor';
const actorName = z.string().regex(/^[\w.@+-]{1,100}$/, 'a user name of up to 100 letters, digits, ".", "@", "+", "_" or "-"');

const callers = new WeakMap<FastifyRequest, ApiCaller>();

/** Refuses the request unless it carries a known token. Runs on onRequest: a stranger's body is never parsed. */
export function requireApiToken(deps: ApiDeps, request: FastifyRequest, what = 'the write API'): ApiCaller {
  const config = deps.loadApps();
  if (!hasAnyApiToken(config, deps.env)) throw forbidden(`${what} is disabled: add a named token (apiTokens in the apps file) or set FLIGHTDECK_API_TOKEN to enable it`);
  const authorization = header(request, 'authorization') ?? '';
  const token = authorization.startsWith('Bearer ') ? authorization.slice('Bearer '.length).trim() : '';
  const caller = token ? findApiCaller(config, deps.env, token) : undefined;
  if (!caller) {
    auditLog(deps.logger, { actor: `ip:${clientAddress(request, deps.env)}`, action: `${request.method} ${request.routeOptions.url}`, target: what, outcome: 'refused', source: 'api', detail: token ? 'unknown bearer token' : 'no bearer token' });
    throw unauthorized('send Authorization: Bearer <an API token>');
  }
  callers.set(request, caller);
  return caller;
}

/** Refuses (403, audit-logged) unless the request's token has a scope for `action` on `target`. */
export function requireScope(deps: ApiDeps, request: FastifyRequest, action: ApiAction, target?: string): void {
  const caller = callers.get(request) ?? requireApiToken(deps, request);
  if (hasScope(caller, action, target)) return;
  const wanted = action === 'read' ? 'read' : `${action}:${target}`;
  auditLog(deps.logger, { actor: apiActor(request), action, target: target ?? request.routeOptions.url ?? '', outcome: 'refused', source: 'api', detail: `token ${caller.name} lacks scope ${wanted}` });
  throw forbidden(`token ${caller.name} may not ${action}${target ? ` ${target}` : ''}: it needs the scope ${wanted}`);
}

/** The person an authenticated API caller acts for, as the audit log names them. */
export function apiActor(request: FastifyRequest): string {
  const actor = header(request, ACTOR_HEADER);
  const caller = callers.get(request);
  return `api:${actor === undefined ? caller?.name ?? 'token' : parseRequest(actorName, actor, `${ACTOR_HEADER} header`)}`;
}

/** The token's name as an identity (`token:<name>`), which four-eyes compares. */
export function apiIdentity(request: FastifyRequest): string | undefined {
  const caller = callers.get(request);
  return caller ? `token:${caller.name}` : undefined;
}
