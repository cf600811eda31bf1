// Errors a route throws to answer with a status: the server's error handler turns them into
// `{error, message}` JSON. Anything else becomes a 500 without details (never a stack trace).
export class HttpError extends Error {
  constructor(readonly statusCode: number, readonly error: string, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
    this.name = 'HttpError';
  }
}

export const badRequest = (message: string) => new HttpError(400, 'bad_request', message);
export const unauthorized = (message: string) => new HttpError(401, 'unauthorized', message);
export const forbidden = (message: string) => new HttpError(403, 'forbidden', message);
export const notFound = (message: string) => new HttpError(404, 'not_found', message);
export const conflict = (message: string) => new HttpError(409, 'conflict', message);
export const serviceUnavailable = (message: string) => new HttpError(503, 'unavailable', message);

/** The `error` code for statuses Fastify itself produces (body too large, bad JSON, unknown media type). */
export function errorCodeForStatus(statusCode: number): string {
  const codes: Record<number, string> = {
    400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 405: 'method_not_allowed',
    409: 'conflict', 413: 'payload_too_large', 415: 'unsupported_media_type', 429: 'rate_limited', 503: 'unavailable',
  };
  return codes[statusCode] ?? (statusCode >= 500 ? 'internal' : 'bad_request');
}
