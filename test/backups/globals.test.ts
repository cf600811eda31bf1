// The cluster's globals (roles) stored with every backup, and restored on request onto a new cluster
// that lacks them (issue 17.3). Real PostgreSQL (two clusters), pg_dumpall, pg_restore and Temporal.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listBackups } from '../../activities/backup/backupList.js';
import { readManifest, seriesOf } from '../../activities/backup/catalog.js';
import type { DumpResult } from '../../activities/backup/dump.js';
import { createLocalStorage } from '../../activities/backup/localStorage.js';
import type { VerificationResult } from '../../activities/backup/verify.js';
import type { AppsConfig } from '../../lib/config.js';
import type { RestoreRequest } from '../../lib/messages.js';
import { backupDatabase } from '../../workflows/backupDatabase.js';
import { restoreDatabase } from '../../workflows/restoreDatabase.js';
import { startLocalPostgres, type LocalPostgres } from '../../scripts/localPostgres.js';
import { createDatabase, databaseUrl, withAdminClient } from '../helpers/postgres.js';
import { useBackupTestEnvironment } from './helpers/backupTestEnvironment.js';

const harness = useBackupTestEnvironment();
const trigger = { source: 'api' as const, actor: 'alice' };
const suffix = randomBytes(3).toString('hex');
const owner = `vault_owner_${suffix}`;
const reader = `vault_reader_${suffix}`;
let vaultUrl = '';
let config: AppsConfig;
let newCluster: LocalPostgres | undefined;

beforeAll(async () => {
  newCluster = await startLocalPostgres();
  await withAdminClient(harness.serverUrl, (c) => c.query(`create role ${owner} login password 'owner-secret-${suffix}'; create role ${reader} nologin; grant ${reader} to ${owner};
    alter role ${reader} set statement_timeout = '5min'`));
  vaultUrl = await createDatabase(harness.serverUrl, 'vault');
  await withAdminClient(vaultUrl, (c) => c.query(`create table secrets (id int primary key, note text); insert into secrets select g, 'n' || g from generate_series(1, 200) g;
    alter table secrets owner to ${owner}; grant select on secrets to ${reader}`));
  harness.setSecret('VAULT_DATABASE_URL', vaultUrl);
  config = harness.setConfig({ databases: { vault: { secret: 'VAULT_DATABASE_URL' } } });
}, 120_000);
afterAll(async () => {
  await newCluster?.stop();
});

async function backUpAndVerify(backupId: string): Promise<{ dump: DumpResult; verification: VerificationResult }> {
  const activities = harness.activities();
  const dump = await new MockActivityEnvironment().run(activities.dumpDatabase, {
    backupId, database: 'vault', app: 'unknown', releaseVersion: 'unknown', compressionLevel: 6, trigger,
  }) as DumpResult;
  const verification = await new MockActivityEnvironment().run(activities.verifyBackup, { database: 'vault', series: dump.series, backupId }) as VerificationResult;
  return { dump, verification };
}

describe('the globals of a backup', () => {
  it('stores the cluster\'s roles (no passwords) beside each dump, checksummed, verified and listed', async () => {
    const { dump, verification } = await backUpAndVerify('vault-globals');

    const manifest = await readManifest(createLocalStorage(harness.storageDir), seriesOf('unknown', 'vault'), 'vault-globals');
    expect(manifest.globals?.roles).toEqual(expect.arrayContaining([owner, reader]));
    const stored = fs.readFileSync(path.join(harness.storageDir, 'unknown', 'vault', 'vault-globals.globals.sql'), 'utf8');
    expect(stored).toContain(`CREATE ROLE ${owner};`);
    expect(stored).toContain(`GRANT ${reader} TO ${owner}`);
    expect(stored).not.toMatch(/PASSWORD|SCRAM-SHA-256|owner-secret/);
    expect(dump.globals).toMatch(/^\d+ roles \(pg_dumpall --globals-only\)$/);
    expect(verification.checks.find((c) => c.name === 'globals checksum')).toMatchObject({ isPassed: true });
    expect(verification.isVerified).toBe(true);
    const [listed] = (await listBackups(config, 'vault')).filter((b) => b.backupId === 'vault-globals');
    expect(listed!.globals).toMatchObject({ roleCount: manifest.globals!.roles.length, sha256: manifest.globals!.sha256 });
  });

  it('fails verification when the stored globals no longer match their checksum', async () => {
    const activities = harness.activities();
    const dump = await new MockActivityEnvironment().run(activities.dumpDatabase, {
      backupId: 'vault-tampered', database: 'vault', app: 'unknown', releaseVersion: 'unknown', compressionLevel: 6, trigger,
    }) as DumpResult;
    fs.appendFileSync(path.join(harness.storageDir, 'unknown', 'vault', 'vault-tampered.globals.sql'), `CREATE ROLE intruder SUPERUSER;\n`);

    const verification = await new MockActivityEnvironment().run(activities.verifyBackup, { database: 'vault', series: dump.series, backupId: 'vault-tampered' }) as VerificationResult;

    expect(verification.isVerified).toBe(false);
    expect(verification.failureType).toBe('BackupChecksumMismatch');
    expect(verification.checks.find((c) => c.name === 'globals checksum')?.detail).toMatch(/^the stored globals file reads back as sha256/);
  });

  it('restores onto a new cluster with --with-globals: the missing roles are created first, and owners and grants come back', async () => {
    const pgDatabase = new URL(vaultUrl).pathname.slice(1);
    const restored = await harness.kit.withWorker(harness.activities(), async (taskQueue) => {
      const backup = await harness.kit.client.workflow.execute(backupDatabase, { taskQueue, workflowId: harness.kit.uniqueId('backup-vault'), args: [{ database: 'vault', trigger }] });
      // The old cluster is gone: the database's secret now names the new, empty cluster.
      harness.setSecret('VAULT_DATABASE_URL', newCluster!.url);
      try {
        const request: RestoreRequest = { database: 'vault', backupId: backup.backupId, targetDatabase: pgDatabase, shouldRestoreGlobals: true, trigger };
        return await harness.kit.client.workflow.execute(restoreDatabase, { taskQueue, workflowId: harness.kit.uniqueId('restore-vault'), args: [request] });
      } finally {
        harness.setSecret('VAULT_DATABASE_URL', vaultUrl);
      }
    });

    expect(restored.roles?.created).toEqual(expect.arrayContaining([owner, reader]));
    expect(restored.roles?.existing).toContain(new URL(newCluster!.url).username);
    expect(restored.roles?.failed).toEqual([]);
    const onNewCluster = await withAdminClient(databaseUrl(newCluster!.url, pgDatabase), async (c) => (await c.query(
      `select tableowner as owner, has_table_privilege($1, 'secrets', 'select') as "canRead", (select count(*)::int from secrets) as rows,
        (select rolcanlogin from pg_roles where rolname = $2) as "ownerCanLogin", (select rolpassword is null from pg_authid where rolname = $2) as "hasNoPassword"
       from pg_tables where tablename = 'secrets'`, [reader, owner])).rows);
    expect(onNewCluster).toEqual([{ owner, canRead: true, rows: 200, ownerCanLogin: true, hasNoPassword: true }]);
    expect(harness.slack.allText()).toContain(`Roles from the backup's globals: created`);
  });
});
