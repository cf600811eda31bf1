// Temporal's codec server protocol, so the Temporal UI and CLI can show the payloads Flightdeck
// encrypts (lib/payloadCodec.ts): POST /codec/decode and /codec/encode with {payloads: [...]}, each
// payload's metadata values and data in base64. The API token is required, since a decoded payload
// is what encryption hides; CORS lets the Temporal UI's origin (TEMPORAL_UI_URL) call it.
//   temporal workflow show -w <id> --codec-endpoint http://<api>/codec --codec-auth "Bearer $FLIGHTDECK_API_TOKEN"
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { payloadCodecFor, payloadFromJson, payloadToJson, PayloadDecryptionError, type EncryptionCodec } from '../../lib/payloadCodec.js';
import { requireApiToken } from '../apiToken.js';
import type { ApiDeps } from '../deps.js';
import { badRequest, serviceUnavailable } from '../httpErrors.js';
import { parseRequest } from '../validation.js';

const base64 = z.string().max(4 * 1024 * 1024).regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64');
const codecBody = z.object({
  payloads: z.array(z.object({ metadata: z.record(z.string(), base64).optional(), data: base64.optional() })).max(1000),
});

export async function codecRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const codec = payloadCodecFor(deps.env);
  const uiOrigin = deps.env.TEMPORAL_UI_URL ? new URL(deps.env.TEMPORAL_UI_URL).origin : undefined;

  app.addHook('onRequest', async (request, reply) => {
    allowTemporalUi(request, reply, uiOrigin);
    if (request.method !== 'OPTIONS') requireApiToken(deps, request);
  });

  for (const action of ['encode', 'decode'] as const) {
    // The browser's preflight: answered without the token, which it does not send.
    app.options(`/codec/${action}`, async (_request, reply) => reply.code(204).send());
    app.post(`/codec/${action}`, async (request) => {
      const body = parseRequest(codecBody, request.body, `codec ${action} request`);
      return { payloads: await transform(requireCodec(codec), action, body.payloads) };
    });
  }
}

function requireCodec(codec: EncryptionCodec | undefined): EncryptionCodec {
  if (!codec) throw serviceUnavailable('payload encryption is off: set FLIGHTDECK_PAYLOAD_KEYS to turn it on');
  return codec;
}

async function transform(codec: EncryptionCodec, action: 'encode' | 'decode', payloads: z.infer<typeof codecBody>['payloads']) {
  try {
    const result = await codec[action](payloads.map(payloadFromJson));
    return result.map(payloadToJson);
  } catch (err) {
    if (err instanceof PayloadDecryptionError) throw badRequest(err.message);
    throw err;
  }
}

function allowTemporalUi(request: FastifyRequest, reply: FastifyReply, uiOrigin: string | undefined): void {
  if (!uiOrigin || request.headers.origin !== uiOrigin) return;
  reply.header('Access-Control-Allow-Origin', uiOrigin);
  reply.header('Access-Control-Allow-Credentials', 'true');
  reply.header('Access-Control-Allow-Methods', 'POST, OPTIONS');
  reply.header('Access-Control-Allow-Headers', 'Authorization, Content-Type, X-Namespace');
  reply.header('Vary', 'Origin');
}
