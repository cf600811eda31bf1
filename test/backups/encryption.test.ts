// Client-side encryption of backups with age (issue 23.1): the storage holds ciphertext only; the
// verification and restores decrypt with identities read from a named secret. Real PostgreSQL,
// pg_dump/pg_restore and the age CLI; keys made by age-keygen.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readManifest } from '../../activities/backup/catalog.js';
import { assertAgeAvailable } from '../../activities/backup/encryption.js';
import type { DumpResult } from '../../activities/backup/dump.js';
import { createLocalStorage } from '../../activities/backup/localStorage.js';
import { createDatabase, databaseUrl, withAdminClient } from '../helpers/postgres.js';
import { useBackupTestEnvironment } from './helpers/backupTestEnvironment.js';

const harness = useBackupTestEnvironment({ hasWorkflows: false });
const IDENTITY_SECRET = 'VAULT_AGE_IDENTITY';
/** A row value to look for in what is stored; pg_dump --compress=0 writes it as is. */
const CANARY = `canary-${randomBytes(6).toString('hex')}`;

interface AgeKey { recipient: string; identity: string }
let keyA: AgeKey;
let keyB: AgeKey;

async function ageKeygen(): Promise<AgeKey> {
  const { stdout } = await promisify(execFile)('age-keygen', []);
  return { recipient: /public key: (age1\w+)/.exec(stdout)![1]!, identity: /^(AGE-SECRET-KEY-1\w+)$/m.exec(stdout)![1]! };
}

beforeAll(async () => {
  [keyA, keyB] = await Promise.all([ageKeygen(), ageKeygen()]);
  const url = await createDatabase(harness.serverUrl, 'vault');
  await withAdminClient(url, (c) => c.query(`create table notes as select g as id, md5(g::text) as body from generate_series(1, 2000) g;
    insert into notes values (0, '${CANARY}')`));
  harness.setSecret('VAULT_DATABASE_URL', url);
});
afterAll(() => {
  delete process.env[IDENTITY_SECRET];
});

/** `vault` encrypted for `recipients`, the identities in the secret; `vault-plain` the same database in clear. */
function configure(recipients: string[], identities: string[] | undefined) {
  if (identities) process.env[IDENTITY_SECRET] = identities.join('\n');
  else delete process.env[IDENTITY_SECRET];
  harness.setConfig({
    databases: {
      vault: { secret: 'VAULT_DATABASE_URL', compressionLevel: 0, encryption: { recipients, identitySecret: IDENTITY_SECRET } },
      'vault-plain': { secret: 'VAULT_DATABASE_URL', compressionLevel: 0 },
    },
  });
}

function run<A, R>(fn: (input: A) => Promise<R>, input: A): Promise<R> {
  return new MockActivityEnvironment().run(fn, input);
}

function dump(database: string): Promise<DumpResult> {
  return run(harness.activities().dumpDatabase, {
    backupId: `${database}-${randomBytes(3).toString('hex')}`, database, app: 'unknown', releaseVersion: 'unknown', compressionLevel: 0, trigger: { source: 'api' as const, actor: 'alice' },
  });
}

const verify = (database: string, backup: DumpResult) => run(harness.activities().verifyBackup, { database, series: backup.series, backupId: backup.backupId });

describe('encrypted backups', () => {
  it('store only ciphertext: no row value in the stored dump, and the manifest names its recipients', async () => {
    configure([keyA.recipient], [keyA.identity]);
    const [encrypted, plain] = [await dump('vault'), await dump('vault-plain')];

    // The same database stored in clear shows the value: the search would find it.
    expect(fs.readFileSync(plain.location).includes(CANARY)).toBe(true);
    const stored = fs.readFileSync(encrypted.location);
    expect(stored.includes(CANARY)).toBe(false);
    expect(stored.subarray(0, 21).toString()).toBe('age-encryption.org/v1');
    const manifest = await readManifest(createLocalStorage(harness.storageDir), encrypted.series, encrypted.backupId);
    expect(manifest.encryption).toEqual({ method: 'age', recipients: [keyA.recipient] });
    expect(manifest.sizeBytes).toBe(stored.length);
  });

  it('verifies and restores with the identity from the named secret', async () => {
    configure([keyA.recipient], [keyA.identity]);
    const backup = await dump('vault');
    const verification = await verify('vault', backup);
    expect(verification.checks.filter((c) => !c.isPassed)).toEqual([]);
    expect(verification.isVerified).toBe(true);

    const stagingDatabase = `vault_restored_${randomBytes(3).toString('hex')}`;
    const outcome = await run(harness.activities().restoreBackupIntoStaging, { database: 'vault', series: backup.series, backupId: backup.backupId, stagingDatabase });
    expect(outcome.isVerified).toBe(true);
    const restoredUrl = databaseUrl(harness.serverUrl, stagingDatabase);
    expect((await withAdminClient(restoredUrl, (c) => c.query('select body from notes where id = 0'))).rows).toEqual([{ body: CANARY }]);
    await withAdminClient(harness.serverUrl, (c) => c.query(`drop database ${stagingDatabase}`));
    expect(harness.logs.join('\n')).not.toContain(keyA.identity);
  });

  it('fails clearly without the identity, and with an identity that is not a recipient', async () => {
    configure([keyA.recipient], [keyA.identity]);
    const backup = await dump('vault');

    configure([keyA.recipient], undefined);
    await expect(verify('vault', backup)).rejects.toThrow(
      `secret ${IDENTITY_SECRET} (the age identities of database vault's backups) is not set in the worker environment; backup ${backup.backupId} is encrypted for ${keyA.recipient}`);

    configure([keyA.recipient], [keyB.identity]);
    const verification = await verify('vault', backup);
    expect(verification.isVerified).toBe(false);
    expect(verification.checks.find((c) => !c.isPassed)).toEqual({
      name: 'archive contents', isPassed: false,
      detail: `decrypting the stored dump failed: no identity in secret ${IDENTITY_SECRET} matches its recipients (${keyA.recipient}); add the matching identity to the secret (keep old ones after a key rotation)`,
    });
    expect(JSON.stringify(verification)).not.toContain(keyB.identity);
  });

  it('refuses to run without the age CLI, saying what to install', () => {
    expect(() => assertAgeAvailable('/nonexistent/age')).toThrow('age (AGE_PATH=/nonexistent/age) is not installed on the worker, and backups of this database are encrypted: apt-get install age, or set AGE_PATH');
    expect(() => assertAgeAvailable('age')).not.toThrow();
  });

  it('keeps older backups restorable after a key rotation, with the old identity kept in the secret', async () => {
    configure([keyA.recipient], [keyA.identity]);
    const before = await dump('vault');

    configure([keyB.recipient], [keyB.identity, keyA.identity]);
    const after = await dump('vault');
    const manifest = await readManifest(createLocalStorage(harness.storageDir), after.series, after.backupId);
    expect(manifest.encryption?.recipients).toEqual([keyB.recipient]);
    expect((await verify('vault', before)).isVerified).toBe(true);
    expect((await verify('vault', after)).isVerified).toBe(true);
  });
});
