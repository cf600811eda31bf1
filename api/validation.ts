// Request bodies and query strings are parsed with zod at the edge; a refusal lists every problem
// with the field it concerns, so the caller can fix the request in one go.
import { isIP } from 'node:net';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ConfigError, type EnvConfig } from '../lib/config.js';
import { badRequest, notFound } from './httpErrors.js';

export function parseRequest<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${describeIssue(issue)}`);
  throw badRequest(`invalid ${what}: ${problems.join('; ')}`);
}

/** zod's generic type messages ("expected string, received undefined") in the words a caller needs. */
function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code !== 'invalid_type') return issue.message;
  if (/received undefined$/.test(issue.message)) return `required (${issue.expected})`;
  if (/received NaN$/.test(issue.message)) return 'expected a number';
  return issue.message;
}

/** Raw JSON bytes (from the raw-body parser) to a value, or a 400 that says the body is not JSON. */
export function parseJsonBody(rawBody: unknown): unknown {
  if (!Buffer.isBuffer(rawBody) || rawBody.length === 0) throw badRequest('the body is empty; expected a JSON object');
  try {
    return JSON.parse(rawBody.toString('utf8'));
  } catch (err) {
    throw badRequest(`the body is not valid JSON: ${(err as Error).message}`);
  }
}

/** Runs a config lookup (resolveTarget, resolveDatabase); an unknown name is the caller's mistake. */
export function lookUp<T>(lookup: () => T, status: 'bad_request' | 'not_found' = 'bad_request'): T {
  try {
    return lookup();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const message = err.problems.join('; ');
    throw status === 'not_found' ? notFound(message) : badRequest(message);
  }
}

/** A request header's value (the first, if sent twice). */
export function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

const idempotencyKey = z.string().regex(/^[A-Za-z0-9._:-]{1,200}$/, 'up to 200 letters, digits, ".", "_", ":" or "-"');

/** The Idempotency-Key header as a delivery id (the deploy queue and database operations dedupe on it). */
export function idempotencyDeliveryId(request: FastifyRequest): string | undefined {
  const key = header(request, 'idempotency-key');
  return key === undefined ? undefined : `key:${parseRequest(idempotencyKey, key, 'Idempotency-Key header')}`;
}

/**
 * The client's address. Behind Fly's proxy every request comes from the proxy: with
 * FLIGHTDECK_TRUST_PROXY=true the address is Fly-Client-IP, which the proxy sets (and overwrites);
 * without it that header is ignored, since anyone could send it.
 */
export function clientAddress(request: FastifyRequest, env: Pick<EnvConfig, 'FLIGHTDECK_TRUST_PROXY'>): string {
  if (!env.FLIGHTDECK_TRUST_PROXY) return request.ip;
  const flyClientIp = header(request, 'fly-client-ip')?.trim();
  return flyClientIp && isIP(flyClientIp) ? flyClientIp : request.ip;
}
