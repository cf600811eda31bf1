// Payload encryption: every payload Flightdeck writes to Temporal (workflow and activity arguments,
// results, heartbeats, queries, memos) is encrypted with AES-256-GCM before it leaves the process, so
// the Temporal server, its database and its UI hold ciphertext. Temporal's codec pattern: the worker,
// the API and the CLI use the codec in their data converter; the API serves /codec/decode so the
// Temporal UI and CLI (`--codec-endpoint`) can show decrypted payloads to people allowed to see them.
//
// Keys rotate: FLIGHTDECK_PAYLOAD_KEYS lists id:key pairs, the first encrypts, all of them decrypt;
// each payload names its key in its metadata. A payload without encryption (a run from before the keys
// were set) passes through unchanged.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import type { PayloadKey } from './config.js';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
const KEY_ID = 'encryption-key-id';
const CIPHER = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** A payload as JSON (its metadata values and data base64): what is encrypted, and what /codec speaks. */
export interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

export function payloadToJson(payload: Payload): JsonPayload {
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(payload.metadata ?? {})) if (value) metadata[key] = Buffer.from(value).toString('base64');
  return { metadata, data: payload.data ? Buffer.from(payload.data).toString('base64') : undefined };
}

export function payloadFromJson(json: JsonPayload): Payload {
  const metadata: Record<string, Uint8Array> = {};
  for (const [key, value] of Object.entries(json.metadata ?? {})) metadata[key] = new Uint8Array(Buffer.from(value, 'base64'));
  return { metadata, data: json.data === undefined ? undefined : new Uint8Array(Buffer.from(json.data, 'base64')) };
}

export class PayloadDecryptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PayloadDecryptionError';
  }
}

export class EncryptionCodec implements PayloadCodec {
  private readonly keysById: Map<string, Buffer>;

  constructor(private readonly keys: readonly PayloadKey[]) {
    if (keys.length === 0) throw new Error('EncryptionCodec needs at least one key');
    this.keysById = new Map(keys.map((k) => [k.id, k.key]));
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const { id, key } = this.keys[0]!;
    return payloads.map((payload) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv(CIPHER, key, iv);
      const plaintext = textEncoder.encode(JSON.stringify(payloadToJson(payload)));
      const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: { encoding: textEncoder.encode(ENCRYPTED_ENCODING), [KEY_ID]: textEncoder.encode(id) },
        data: new Uint8Array(Buffer.concat([iv, ciphertext])),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (!isEncrypted(payload)) return payload;
      const id = textDecoder.decode(payload.metadata![KEY_ID] ?? new Uint8Array());
      const key = this.keysById.get(id);
      if (!key) throw new PayloadDecryptionError(`payload encrypted with key "${id}", which is not in FLIGHTDECK_PAYLOAD_KEYS (it has: ${[...this.keysById.keys()].join(', ')})`);
      const data = Buffer.from(payload.data ?? new Uint8Array());
      const decipher = createDecipheriv(CIPHER, key, data.subarray(0, IV_BYTES));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      let plaintext: Buffer;
      try {
        plaintext = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      } catch {
        throw new PayloadDecryptionError(`payload encrypted with key "${id}" does not decrypt: the key's value changed, or the payload was altered`);
      }
      return payloadFromJson(JSON.parse(textDecoder.decode(plaintext)) as JsonPayload);
    });
  }
}

export function isEncrypted(payload: Payload): boolean {
  const encoding = payload.metadata?.encoding;
  return encoding !== undefined && encoding !== null && textDecoder.decode(encoding) === ENCRYPTED_ENCODING;
}

/** The codec for the configured keys, or undefined when payload encryption is off. */
export function payloadCodecFor(env: { payloadKeys: readonly PayloadKey[] }): EncryptionCodec | undefined {
  return env.payloadKeys.length ? new EncryptionCodec(env.payloadKeys) : undefined;
}

/** For Client and Worker options: `{ dataConverter: temporalDataConverter(env) }`. */
export function temporalDataConverter(env: { payloadKeys: readonly PayloadKey[] }): DataConverter | undefined {
  const codec = payloadCodecFor(env);
  return codec ? { payloadCodecs: [codec] } : undefined;
}
