// Payload encryption: with FLIGHTDECK_PAYLOAD_KEYS set, what the Temporal server stores of a deploy
// is ciphertext; the API's codec endpoint (Temporal's codec-server protocol) decodes it for people
// holding the API token, and a key rotated out of encryption still decodes the runs it encrypted.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Client } from '@temporalio/client';
import { describe, expect, inject, it } from 'vitest';
import { loadEnvConfig, parseAppsConfig } from '../../lib/config.js';
import { requestDeploy } from '../../lib/operations.js';
import { ENCRYPTED_ENCODING, EncryptionCodec, payloadToJson, temporalDataConverter, type JsonPayload } from '../../lib/payloadCodec.js';
import { locateTemporalCli } from '../../scripts/localTemporal.js';
import { deployRequest, settle } from '../deploy/support.js';
import { useDeployWorld } from '../helpers/deployWorld.js';
import { useWorkflowTestKit } from '../helpers/temporal.js';
import { API_TOKEN, buildTestServer } from './apiHarness.js';

const kit = useWorkflowTestKit(fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)));
const world = useDeployWorld();

const keyEntry = (id: string) => `${id}:${randomBytes(32).toString('base64')}`;
const UI_ORIGIN = 'http://localhost:8233';

/**
 * Every payload in a `temporal workflow show --output json` history (anything with metadata.encoding),
 * except what Temporal itself must read: search attributes (indexed) and patch markers (patched() ids).
 */
function payloadsIn(node: unknown, found: JsonPayload[] = []): JsonPayload[] {
  if (Array.isArray(node)) for (const item of node) payloadsIn(item, found);
  else if (node && typeof node === 'object') {
    const record = node as Record<string, unknown>;
    if (record.markerName === 'core_patch') return found;
    // A local activity's marker: the SDK core's own bookkeeping (sequence, attempt, activity type, times)
    // is plain JSON it writes itself; the activity's result beside it must be encrypted like any payload.
    if (record.markerName === 'core_local_activity') delete (record.details as Record<string, unknown> | undefined)?.data;
    for (const key of ['searchAttributes', 'upsertWorkflowSearchAttributesEventAttributes']) delete record[key];
    const metadata = record.metadata as Record<string, string> | undefined;
    if (metadata && typeof metadata.encoding === 'string') found.push(record as JsonPayload);
    else for (const value of Object.values(record)) payloadsIn(value, found);
  }
  return found;
}

const fromBase64 = (text: string | undefined) => Buffer.from(text ?? '', 'base64').toString('utf8');

describe('payload encryption', () => {
  it("keeps a deploy's payloads out of Temporal's history in plaintext, and the codec endpoint decodes them", async () => {
    const env = loadEnvConfig({ FLIGHTDECK_PAYLOAD_KEYS: keyEntry('k1'), FLIGHTDECK_API_TOKEN: API_TOKEN });
    const dataConverter = temporalDataConverter(env);
    const client = new Client({ connection: kit.env.connection, namespace: inject('temporalNamespace'), dataConverter });
    const app = await world.createApp();
    const sha = app.repo.commit({ behaviour: { version: 'v2' } });
    const { workflowId, status } = await kit.withWorker(world.activities({ temporalClient: client }), async (taskQueue) => {
      const started = await requestDeploy(client, taskQueue, deployRequest(app, sha));
      return { workflowId: started.workflowId, ...(await settle(client, started.workflowId)) };
    }, { dataConverter });
    expect(status.state).toBe('succeeded');

    const history = execFileSync(locateTemporalCli(), ['workflow', 'show', '--workflow-id', workflowId, '--output', 'json', '--address', inject('temporalAddress'), '--namespace', inject('temporalNamespace')], { encoding: 'utf8' });
    const payloads = payloadsIn(JSON.parse(history));
    expect(payloads.length).toBeGreaterThan(5);
    expect(payloads.filter((p) => fromBase64(p.metadata!.encoding) !== ENCRYPTED_ENCODING)).toEqual([]);
    expect(payloads.filter((p) => fromBase64(p.data).includes(app.name))).toEqual([]);

    const { server } = await buildTestServer({ client, taskQueue: 'unused', apps: () => parseAppsConfig({}), env: { FLIGHTDECK_PAYLOAD_KEYS: env.FLIGHTDECK_PAYLOAD_KEYS! } });
    const response = await server.inject({ method: 'POST', url: '/codec/decode', headers: { authorization: `Bearer ${API_TOKEN}`, 'x-namespace': inject('temporalNamespace') }, payload: { payloads } });
    expect(response.statusCode).toBe(200);
    const decoded = (response.json() as { payloads: JsonPayload[] }).payloads;
    expect(decoded.filter((p) => fromBase64(p.metadata?.encoding) === ENCRYPTED_ENCODING)).toEqual([]);
    expect(decoded.some((p) => fromBase64(p.data).includes(app.name))).toBe(true);
  });

  it('decodes payloads encrypted with a key that has since been rotated out of encryption', async () => {
    const [oldKey, newKey] = [keyEntry('2026-06'), keyEntry('2026-12')];
    const before = new EncryptionCodec(loadEnvConfig({ FLIGHTDECK_PAYLOAD_KEYS: oldKey }).payloadKeys);
    const after = new EncryptionCodec(loadEnvConfig({ FLIGHTDECK_PAYLOAD_KEYS: `${newKey},${oldKey}` }).payloadKeys);
    const original = { metadata: { encoding: new TextEncoder().encode('json/plain') }, data: new TextEncoder().encode('{"app":"shop"}') };

    const [oldRun] = await before.encode([original]);
    const [newRun] = await after.encode([original]);

    expect(payloadToJson((await after.decode([oldRun!]))[0]!)).toEqual(payloadToJson(original));
    expect(fromBase64(payloadToJson(newRun!).metadata!['encryption-key-id'])).toBe('2026-12');
    await expect(before.decode([newRun!])).rejects.toThrow('key "2026-12", which is not in FLIGHTDECK_PAYLOAD_KEYS');
  });

  it('refuses the codec endpoint without the API token, and answers the Temporal UI\'s preflight', async () => {
    const { server } = await buildTestServer({ client: kit.client, taskQueue: 'unused', apps: () => parseAppsConfig({}), env: { FLIGHTDECK_PAYLOAD_KEYS: keyEntry('k1'), TEMPORAL_UI_URL: `${UI_ORIGIN}/namespaces/default` } });

    const anonymous = await server.inject({ method: 'POST', url: '/codec/decode', headers: { origin: UI_ORIGIN }, payload: { payloads: [] } });
    const preflight = await server.inject({ method: 'OPTIONS', url: '/codec/decode', headers: { origin: UI_ORIGIN, 'access-control-request-method': 'POST' } });

    expect(anonymous.statusCode).toBe(401);
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe(UI_ORIGIN);
    expect(preflight.headers['access-control-allow-headers']).toContain('X-Namespace');
  });
});
