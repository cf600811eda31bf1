// Parallel dumps and restores (issue 23.4): parallelJobs > 1 dumps with pg_dump --format=directory
// --jobs on the worker's spool, packs the directory into one tar object (through age, the checksum and
// storage like a custom archive) and restores it with pg_restore --jobs. Real PostgreSQL,
// pg_dump/pg_restore and age; local storage.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manifestKey, readManifest } from '../../activities/backup/catalog.js';
import type { DumpResult } from '../../activities/backup/dump.js';
import { createLocalStorage } from '../../activities/backup/localStorage.js';
import { databaseUrl, withAdminClient } from '../helpers/postgres.js';
import { isDumpWaitingForLock, useBackupTestEnvironment, waitFor } from './helpers/backupTestEnvironment.js';
import { createSampleDatabase, describeDatabase } from './helpers/sampleDatabase.js';

const harness = useBackupTestEnvironment({ hasWorkflows: false });
const SECRET = 'SHOP_DATABASE_URL';
const IDENTITY_SECRET = 'SHOP_AGE_IDENTITY';
/** A row value to look for in what is stored; pg_dump --compress=0 writes it as is. */
const CANARY = `canary-${randomBytes(6).toString('hex')}`;
let sourceUrl = '';
let recipient = '';

beforeAll(async () => {
  sourceUrl = await createSampleDatabase(harness.serverUrl, 'pshop');
  await withAdminClient(sourceUrl, (c) => c.query(`update customers set name = '${CANARY}' where id = 1`));
  harness.setSecret(SECRET, sourceUrl);
  const { stdout } = await promisify(execFile)('age-keygen', []);
  recipient = /public key: (age1\w+)/.exec(stdout)![1]!;
  process.env[IDENTITY_SECRET] = /^(AGE-SECRET-KEY-1\w+)$/m.exec(stdout)![1]!;
  configure();
});
/** shop dumps with two jobs (shop-age encrypted too); shop-serial as before, unless serialJobs says otherwise. */
function configure(serialJobs = 1) {
  harness.setConfig({
    databases: {
      shop: { secret: SECRET, parallelJobs: 2 },
      'shop-age': { secret: SECRET, parallelJobs: 2, compressionLevel: 0, encryption: { recipients: [recipient], identitySecret: IDENTITY_SECRET } },
      'shop-serial': { secret: SECRET, parallelJobs: serialJobs },
    },
  });
}

afterAll(() => {
  delete process.env[IDENTITY_SECRET];
});

function run<A, R>(fn: (input: A) => Promise<R>, input: A, environment = new MockActivityEnvironment()): Promise<R> {
  return environment.run(fn, input);
}

function dumpRequest(database: string) {
  return { backupId: `${database}-${randomBytes(3).toString('hex')}`, database, app: 'unknown', releaseVersion: 'unknown', compressionLevel: database === 'shop-age' ? 0 : 6, trigger: { source: 'api' as const, actor: 'alice' } };
}

const dump = (database: string, environment?: MockActivityEnvironment): Promise<DumpResult> => run(harness.activities().dumpDatabase, dumpRequest(database), environment);
const verify = (database: string, backup: DumpResult) => run(harness.activities().verifyBackup, { database, series: backup.series, backupId: backup.backupId });
const manifestOf = (backup: DumpResult) => readManifest(createLocalStorage(harness.storageDir), backup.series, backup.backupId);
/** What the spool holds: nothing once an activity is over. */
const spooled = () => (fs.existsSync(harness.spoolDir) ? fs.readdirSync(harness.spoolDir) : []);

async function restoreAndDescribe(database: string, backup: DumpResult) {
  const stagingDatabase = `pshop_restored_${randomBytes(3).toString('hex')}`;
  const outcome = await run(harness.activities().restoreBackupIntoStaging, { database, series: backup.series, backupId: backup.backupId, stagingDatabase });
  const restoredUrl = databaseUrl(harness.serverUrl, stagingDatabase);
  try {
    return { outcome, description: outcome.isVerified ? await describeDatabase(restoredUrl) : undefined, canary: await firstCustomerName(restoredUrl).catch(() => undefined) };
  } finally {
    await withAdminClient(harness.serverUrl, (c) => c.query(`drop database if exists ${stagingDatabase}`));
  }
}

const firstCustomerName = (url: string) => withAdminClient(url, async (c) => (await c.query<{ name: string }>('select name from customers where id = 1')).rows[0]?.name);

describe('parallel dumps (parallelJobs 2)', () => {
  it('store one tar object of a directory-format dump, recorded as such, that verifies and restores with the same rows and schema', async () => {
    const environment = new MockActivityEnvironment();
    const phases = new Set<string>();
    environment.on('heartbeat', (details: { phase: string }) => phases.add(details.phase));
    const backup = await dump('shop', environment);

    expect([...phases]).toEqual(expect.arrayContaining(['dump', 'pack']));
    const stored = fs.readFileSync(backup.location);
    // ustar: the magic at offset 257 of the first header; the first member is the table of contents.
    expect(stored.subarray(257, 262).toString()).toBe('ustar');
    expect(stored.subarray(0, 7).toString()).toBe('toc.dat');
    const manifest = await manifestOf(backup);
    expect(manifest).toMatchObject({ dumpFormat: 'directory-tar', sizeBytes: stored.length, sha256: backup.sha256 });
    expect(spooled()).toEqual([]);

    const verification = await verify('shop', backup);
    expect(verification.checks.filter((c) => !c.isPassed)).toEqual([]);
    expect(verification.checks.map((c) => c.name)).toEqual(['checksum', 'globals checksum', 'archive contents', 'free space', 'scratch restore', 'tables', 'indexes', 'sequences', 'row counts']);
    expect(verification.isVerified).toBe(true);
    expect(verification.checks.find((c) => c.name === 'scratch restore')?.detail).toMatch(/ --jobs=2, from the unpacked directory on the worker$/);

    const { outcome, description } = await restoreAndDescribe('shop', backup);
    expect(outcome.checks.filter((c) => !c.isPassed)).toEqual([]);
    expect(outcome.checks[0]?.detail).toMatch(/ --jobs=2, from the unpacked directory on the worker$/);
    expect(description).toEqual(await describeDatabase(sourceUrl));
    expect(spooled()).toEqual([]);
  });

  it('encrypt the packed dump with age: only ciphertext is stored, and it verifies and restores with the identity', async () => {
    const backup = await dump('shop-age');
    const stored = fs.readFileSync(backup.location);
    expect(stored.subarray(0, 21).toString()).toBe('age-encryption.org/v1');
    expect(stored.includes(CANARY)).toBe(false);
    expect(await manifestOf(backup)).toMatchObject({ dumpFormat: 'directory-tar', encryption: { method: 'age', recipients: [recipient] } });

    expect((await verify('shop-age', backup)).isVerified).toBe(true);
    const { outcome, canary } = await restoreAndDescribe('shop-age', backup);
    expect(outcome.isVerified).toBe(true);
    expect(canary).toBe(CANARY);
    expect(harness.logs.join('\n')).not.toContain(process.env[IDENTITY_SECRET]);
  });

  it('fail verification clearly when the packed object is truncated or damaged: by its checksum, and by unpacking if the checksum matched', async () => {
    const backup = await dump('shop');
    const stored = fs.readFileSync(backup.location);
    const truncated = stored.subarray(0, Math.floor(stored.length / 2));
    fs.writeFileSync(backup.location, truncated);

    const byChecksum = await verify('shop', backup);
    expect(byChecksum.isVerified).toBe(false);
    expect(byChecksum.failureType).toBe('BackupChecksumMismatch');
    expect(byChecksum.checks[0]).toMatchObject({ name: 'checksum', isPassed: false, detail: expect.stringContaining(`(${truncated.length} bytes); it was written as`) });

    // The checksum recorded for damaged bytes (as if they had been stored so): pg_restore never runs,
    // the unpacking says what is wrong. Cut short, and with the second member's header overwritten.
    const manifest = await manifestOf(backup);
    const damagedHeader = Buffer.from(stored);
    const tocBytes = Number.parseInt(stored.subarray(124, 135).toString(), 8);
    damagedHeader.fill('x', 512 + Math.ceil(tocBytes / 512) * 512, 512 + Math.ceil(tocBytes / 512) * 512 + 512);
    for (const [damaged, detail] of [
      [truncated, 'the packed dump could not be unpacked: Unexpected end of data'],
      [damagedHeader, expect.stringMatching(/^the packed dump could not be unpacked: Invalid tar header/)],
    ] as const) {
      fs.writeFileSync(backup.location, damaged);
      const recorded = { ...manifest, sizeBytes: damaged.length, sha256: createHash('sha256').update(damaged).digest('hex') };
      fs.writeFileSync(`${harness.storageDir}/${manifestKey(backup.series, backup.backupId)}`, JSON.stringify(recorded));
      const byUnpacking = await verify('shop', backup);
      expect(byUnpacking.failureType).toBe('BackupVerificationFailed');
      expect(byUnpacking.checks.find((c) => !c.isPassed)).toEqual({ name: 'archive contents', isPassed: false, detail });
    }
    expect(spooled()).toEqual([]);
  });

  it('restore an older custom-format backup (no dumpFormat in its manifest) with pg_restore --jobs from a copy on the worker', async () => {
    const backup = await dump('shop-serial');
    expect(await manifestOf(backup)).toMatchObject({ dumpFormat: 'custom' });
    // As a manifest written before parallel dumps: no dumpFormat at all.
    const key = `${harness.storageDir}/${manifestKey(backup.series, backup.backupId)}`;
    const { dumpFormat: _, ...older } = JSON.parse(fs.readFileSync(key, 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(key, JSON.stringify(older));
    expect(fs.readFileSync(backup.location).subarray(0, 5).toString()).toBe('PGDMP');

    // The database now restores with two jobs: the custom archive is copied to a file pg_restore can seek in.
    configure(2);
    try {
      const verification = await verify('shop-serial', backup);
      expect(verification.isVerified).toBe(true);
      expect(verification.checks.find((c) => c.name === 'scratch restore')?.detail).toMatch(/ --jobs=2, from the archive copied on the worker$/);
      const { outcome, description } = await restoreAndDescribe('shop-serial', backup);
      expect(outcome.checks.filter((c) => !c.isPassed)).toEqual([]);
      expect(outcome.checks[0]?.detail).toMatch(/ --jobs=2, from the archive copied on the worker$/);
      expect(description).toEqual(await describeDatabase(sourceUrl));
    } finally {
      configure();
    }
    expect(spooled()).toEqual([]);
  });

  it('remove the spool directory when the dump is cancelled, and store nothing', async () => {
    const database = new URL(sourceUrl).pathname.slice(1);
    const environment = new MockActivityEnvironment();
    const request = dumpRequest('shop');
    await withAdminClient(databaseUrl(harness.serverUrl, database), async (locker) => {
      // pg_dump waits for this lock, so the dump is reliably in progress (its directory made) when it is cancelled.
      await locker.query('begin');
      await locker.query('lock table invoices in access exclusive mode');
      const dumping = environment.run(harness.activities().dumpDatabase, request).catch((err: unknown) => err);
      await waitFor(async () => (spooled().length > 0 && (await isDumpWaitingForLock(harness.serverUrl, database)) ? true : undefined), 'pg_dump to wait for the lock');
      environment.cancel();
      expect(await dumping).toBeInstanceOf(CancelledFailure);
      await locker.query('rollback');
    });
    expect(spooled()).toEqual([]);
    expect(fs.readdirSync(harness.storageDir, { recursive: true }).filter((f) => String(f).includes(request.backupId))).toEqual([]);
  });
});
