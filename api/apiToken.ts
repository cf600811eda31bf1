// The write API's authentication: `Authorization: Bearer $FLIGHTDECK_API_TOKEN`, compared in
// constant time. The caller may name the person it acts for in X-Flightdeck-Actor (audit log).
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { auditLog } from '../lib/audit.js';
import type { ApiDeps } from './deps.js';
import { forbidden, unauthorized } from './httpErrors.js';
import { isSameSecret } from './signatures.js';
import { header, parseRequest } from './validation.js';

export const ACTOR_HEADER = 'X-Flightdeck-Actor';
const actorName = z.string().regex(/^[\w.@+-]{1,100}$/, 'a user name of up to 100 letters, digits, ".", "@", "+", "_" or "-"');

/** Refuses the request unless it carries the API token. Runs on onRequest: a stranger's body is never parsed. */
export function requireApiToken(deps: ApiDeps, request: FastifyRequest): void {
  const expected = deps.env.FLIGHTDECK_API_TOKEN;
  if (!expected) throw forbidden('the write API is disabled: set FLIGHTDECK_API_TOKEN to enable it');
  const authorization = header(request, 'authorization') ?? '';
  const token = authorization.startsWith('Bearer ') ? authorization.slice('Bearer '.length).trim() : '';
  if (!token || !isSameSecret(token, expected)) {
    auditLog(deps.logger, { actor: `ip:${request.ip}`, action: `${request.method} ${request.routeOptions.url}`, target: 'write API', outcome: 'refused', source: 'api', detail: token ? 'wrong bearer token' : 'no bearer token' });
    throw unauthorized('send Authorization: Bearer <FLIGHTDECK_API_TOKEN>');
  }
}

/** The person an authenticated API caller acts for, as the audit log names them. */
export function apiActor(request: FastifyRequest): string {
  const actor = header(request, ACTOR_HEADER);
  return `api:${actor === undefined ? 'token' : parseRequest(actorName, actor, `${ACTOR_HEADER} header`)}`;
}
