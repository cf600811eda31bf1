// Signatures are computed over the exact bytes sent, so routes receive the raw Buffer and parse
// only after verifying. Registered inside an encapsulated plugin, this applies to that plugin's routes.
import type { FastifyInstance } from 'fastify';

export function registerRawBodyParsers(app: FastifyInstance): void {
  const passRawBuffer = (_request: unknown, body: Buffer, done: (err: null, body: Buffer) => void) => done(null, body);
  for (const contentType of ['application/json', 'application/x-www-form-urlencoded']) {
    if (app.hasContentTypeParser(contentType)) app.removeContentTypeParser(contentType);
    app.addContentTypeParser(contentType, { parseAs: 'buffer' }, passRawBuffer);
  }
}
