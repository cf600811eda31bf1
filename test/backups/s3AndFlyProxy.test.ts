// A database reachable only through `fly proxy` (the Fly simulator's proxy, forwarding to the test
// server), backed up into an S3-compatible bucket (s3rver, a real S3 HTTP server on loopback) with a
// streaming multipart upload, and restored from it.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listCatalog, seriesOf } from '../../activities/backup/catalog.js';
import { createS3Storage } from '../../activities/backup/s3Storage.js';
import { checksumOf } from '../../activities/backup/checksumStream.js';
import { StorageObjectMissing, type StorageConfig } from '../../activities/backup/storage.js';
import { backupDatabase } from '../../workflows/backupDatabase.js';
import { restoreDatabase } from '../../workflows/restoreDatabase.js';
import { databaseUrl } from '../helpers/postgres.js';
import { useBackupTestEnvironment } from './helpers/backupTestEnvironment.js';
import { createSampleDatabase, describeDatabase } from './helpers/sampleDatabase.js';

const harness = useBackupTestEnvironment();
const SECRET = 'WAREHOUSE_DATABASE_URL';
const trigger = { source: 'slack', actor: 'bob' } as const;
const s3Dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flightdeck-s3rver-'));
let s3: S3rver | undefined;
let storage: Extract<StorageConfig, { type: 's3' }>;
let sourceUrl = '';

beforeAll(async () => {
  s3 = new S3rver({ address: '127.0.0.1', port: 0, directory: s3Dir, silent: true, configureBuckets: [{ name: 'flightdeck-backups', configs: [] }] });
  const { port } = (await s3.run()) as unknown as { port: number };
  // s3rver's fixed credentials, found by the AWS SDK's default chain as a deployment's would be.
  process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
  process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
  storage = { type: 's3', bucket: 'flightdeck-backups', prefix: 'nightly', endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1' };

  sourceUrl = await createSampleDatabase(harness.serverUrl, 'warehouse');
  // As on Fly: a Postgres app whose port 5432 only `fly proxy` reaches; behind it, the test server.
  const server = new URL(sourceUrl);
  await harness.sim.createApp('warehouse-db', { machines: 0 });
  await harness.sim.setProxyTarget('warehouse-db', server.hostname, Number(server.port));
  const privateUrl = new URL(sourceUrl);
  privateUrl.hostname = 'warehouse-db.flycast.invalid';
  privateUrl.port = '5432';
  harness.setSecret(SECRET, privateUrl.toString());
  harness.setConfig({ storage, databases: { warehouse: { secret: SECRET, flyProxy: { app: 'warehouse-db', remotePort: 5432 } } } });
});

afterAll(async () => {
  await s3?.close();
  delete process.env.AWS_ACCESS_KEY_ID;
  delete process.env.AWS_SECRET_ACCESS_KEY;
  fs.rmSync(s3Dir, { recursive: true, force: true });
});

describe('backups through fly proxy into S3-compatible storage', () => {
  it('backs up through the proxy into the bucket, verifies, and restores from the bucket', async () => {
    const backupId = harness.kit.uniqueId('backup-s3');
    const restoreId = harness.kit.uniqueId('restore-s3');
    const { backup, restored } = await harness.kit.withWorker(harness.activities(), async (taskQueue) => {
      const backup = await harness.kit.client.workflow.execute(backupDatabase, { taskQueue, workflowId: backupId, args: [{ database: 'warehouse', trigger }] });
      const restored = await harness.kit.client.workflow.execute(restoreDatabase, {
        taskQueue, workflowId: restoreId, args: [{ database: 'warehouse', backupId: backup.backupId, trigger }],
      });
      return { backup, restored };
    });

    expect(backup.isVerified).toBe(true);
    expect(backup.location).toMatch(/^s3:\/\/flightdeck-backups\/nightly\/warehouse-db\/warehouse\/warehouse-\d{8}T\d{6}Z-\w{6}_release-unknown\.dump$/);
    const catalog = await listCatalog(createS3Storage(storage), seriesOf('warehouse-db', 'warehouse'));
    expect(catalog.manifests.map((m) => [m.backupId, m.status, m.sizeBytes])).toEqual([[backup.backupId, 'verified', backup.sizeBytes]]);

    expect(restored.isVerified).toBe(true);
    expect(await describeDatabase(databaseUrl(harness.serverUrl, restored.targetDatabase))).toEqual(await describeDatabase(sourceUrl));
    // Every activity started its own proxy through flyctl, and stopped it.
    const proxyCalls = harness.sim.callLog().filter((call) => call.command === 'proxy');
    expect(proxyCalls.length).toBeGreaterThanOrEqual(4);
    expect(proxyCalls.every((call) => call.argv.join(' ').startsWith('proxy 0:5432 -a warehouse-db'))).toBe(true);
    expect((harness.sim.readState() as { proxies: Record<string, unknown> }).proxies).toEqual({});
    expect(runningProxies()).toEqual([]);
    await harness.expectNoSecretLeaked([backupId, restoreId]);
  });

  it('streams a multipart upload and reads it back byte for byte', async () => {
    const bucket = createS3Storage(storage, { partSizeBytes: 5 * 1024 * 1024 });
    const content = randomBytes(12 * 1024 * 1024 + 17);
    // Yielded in small chunks, as pg_dump writes: the uploader must assemble the parts itself.
    await bucket.write('multipart/object.bin', Readable.from((function* chunks() {
      for (let offset = 0; offset < content.length; offset += 64 * 1024) yield content.subarray(offset, offset + 64 * 1024);
    })()));
    const readBack = await checksumOf(await bucket.read('multipart/object.bin'));
    expect(readBack).toEqual({ sha256: createHash('sha256').update(content).digest('hex'), sizeBytes: content.length });
    expect(await bucket.list('multipart/')).toEqual(['multipart/object.bin']);
    await bucket.delete('multipart/object.bin');
    await expect(bucket.read('multipart/object.bin')).rejects.toBeInstanceOf(StorageObjectMissing);
  });
});

/** `flyctl proxy` processes of this suite still alive: the activities must stop theirs. */
function runningProxies(): string[] {
  return fs.readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).flatMap((pid) => {
    try {
      const commandLine = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      const isOurs = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`FLY_SIM_DIR=${harness.sim.dir}`);
      return isOurs && commandLine.includes('flyctl proxy') ? [commandLine] : [];
    } catch {
      return [];
    }
  });
}
