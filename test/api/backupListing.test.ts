// The internet-facing API holds no storage credentials: it lists backups through the worker, which
// reads the storage; no API module loads the storage code.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAppsConfig } from '../../lib/config.js';
import { useDeployWorld } from '../helpers/deployWorld.js';
import { useWorkflowTestKit } from '../helpers/temporal.js';
import { API_TOKEN, buildTestServer } from './apiHarness.js';

const kit = useWorkflowTestKit(fileURLToPath(new URL('../../workflows/index.ts', import.meta.url)));
const world = useDeployWorld(kit);
const backupDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flightdeck-listing-'));
afterAll(() => fs.rmSync(backupDir, { recursive: true, force: true }));

const databases = { orders: { secret: 'ORDERS_DATABASE_URL' } };

describe('listing backups from the API', () => {
  it('answers from the worker, which holds the storage, while the API could not read it itself', async () => {
    const workerConfig = () => parseAppsConfig({ databases, storage: { type: 'local', dir: backupDir } });
    // The API's own view of the storage: an S3 bucket it has no credentials for.
    const apiConfig = () => parseAppsConfig({ databases, storage: { type: 's3', bucket: 'flightdeck-backups', endpoint: 'http://127.0.0.1:1' } });
    const response = await kit.withWorker(world.activities({ loadAppsConfig: workerConfig }), async (taskQueue) => {
      const { server } = await buildTestServer({ client: kit.client, taskQueue, apps: apiConfig });
      return server.inject({ method: 'GET', url: '/backups?db=orders', headers: { authorization: `Bearer ${API_TOKEN}` } });
    });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ backups: [] });
  });

  it('loads no storage code in any API module', () => {
    const apiDir = fileURLToPath(new URL('../../api/', import.meta.url));
    const files = fs.readdirSync(apiDir, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.ts'));
    const runtimeImports = files.flatMap((file) => [...fs.readFileSync(path.join(apiDir, file), 'utf8').matchAll(/^import (?!type )[^;]*from '([^']*activities\/[^']*)'/gm)].map((m) => `${file}: ${m[1]}`));
    expect(runtimeImports).toEqual([]);
  });
});
