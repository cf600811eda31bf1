// Where verification restores its scratch copy (issue 17.7): a configured verify server keeps it off
// production; on the source server, a free-space preflight refuses a copy the disk cannot hold.
// Real PostgreSQL (two clusters), pg_dump and pg_restore.
import { randomBytes } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DumpResult } from '../../activities/backup/dump.js';
import type { VerificationResult } from '../../activities/backup/verify.js';
import { startLocalPostgres, type LocalPostgres } from '../../scripts/localPostgres.js';
import { createDatabase, databaseUrl, withAdminClient } from '../helpers/postgres.js';
import { useBackupTestEnvironment } from './helpers/backupTestEnvironment.js';

const harness = useBackupTestEnvironment({ hasWorkflows: false });
const trigger = { source: 'api' as const, actor: 'alice' };
let verifyCluster: LocalPostgres | undefined;

beforeAll(async () => {
  verifyCluster = await startLocalPostgres();
  const sourceUrl = await createDatabase(harness.serverUrl, 'orders');
  await withAdminClient(sourceUrl, (c) => c.query('create table orders as select g as id, md5(g::text) as ref from generate_series(1, 5000) g'));
  // An unprivileged owner of its own database: it may dump and verify it, but not read the server's disk.
  const role = `orders_app_${randomBytes(3).toString('hex')}`;
  const password = `pw-${randomBytes(6).toString('hex')}`;
  await withAdminClient(harness.serverUrl, async (c) => {
    await c.query(`create role ${role} login createdb password '${password}'`);
    await c.query(`create database ${role} owner ${role}`);
  });
  const ownUrl = new URL(databaseUrl(harness.serverUrl, role));
  ownUrl.username = role;
  ownUrl.password = password;
  await withAdminClient(ownUrl.toString(), (c) => c.query('create table notes as select g as id from generate_series(1, 100) g'));
  harness.setSecret('ORDERS_DATABASE_URL', sourceUrl);
  harness.setSecret('ORDERS_VERIFY_URL', verifyCluster.url);
  harness.setSecret('NOTES_DATABASE_URL', ownUrl.toString());
  harness.setConfig({
    databases: {
      // No room is enough on the source: 100% of its disk must stay free.
      orders: { secret: 'ORDERS_DATABASE_URL', verifyMinFreePercent: 100 },
      'orders-elsewhere': { secret: 'ORDERS_DATABASE_URL', verifySecret: 'ORDERS_VERIFY_URL', verifyMinFreePercent: 100 },
      notes: { secret: 'NOTES_DATABASE_URL' },
    },
  });
}, 120_000);
afterAll(async () => {
  await verifyCluster?.stop();
});

async function backUpAndVerify(database: string): Promise<VerificationResult> {
  const activities = harness.activities();
  const dump = await new MockActivityEnvironment().run(activities.dumpDatabase, {
    backupId: `${database}-${randomBytes(3).toString('hex')}`, database, app: 'unknown', releaseVersion: 'unknown', compressionLevel: 6, trigger,
  }) as DumpResult;
  return await new MockActivityEnvironment().run(activities.verifyBackup, { database, series: dump.series, backupId: dump.backupId }) as VerificationResult;
}

const scratchDatabasesOn = (url: string) => withAdminClient(url, async (c) =>
  (await c.query<{ datname: string }>(`select datname from pg_database where datname like 'flightdeck\\_verify\\_%'`)).rows.map((r) => r.datname));

describe('where verification restores', () => {
  it('refuses a scratch restore on the source server that would leave less than verifyMinFreePercent of its disk free, with the figures', async () => {
    const verification = await backUpAndVerify('orders');

    expect(verification.isVerified).toBe(false);
    expect(verification.failureType).toBe('BackupVerificationFailed');
    expect(verification.checks.at(-1)).toMatchObject({
      name: 'free space', isPassed: false,
      detail: expect.stringMatching(/^not enough room on the source server: the scratch copy needs about [\d.]+ \w+ \(pg_database_size of orders_\w+\); the server's disk has [\d.]+ \w+ free of [\d.]+ \w+, which would leave [\d.]+ \w+, below the 100% \([\d.]+ \w+\) verifyMinFreePercent keeps free\. Nothing was restored/),
    });
    expect(verification.checks.some((c) => c.name === 'scratch restore')).toBe(false);
  });

  it('restores the scratch copy on the configured verify server, not on the source server, and sweeps its crashed scratch databases there', async () => {
    await withAdminClient(verifyCluster!.url, (c) => c.query('create database flightdeck_verify_20250101000000_deadbeef'));

    const verification = await backUpAndVerify('orders-elsewhere');

    expect(verification.checks.filter((c) => !c.isPassed)).toEqual([]);
    expect(verification.isVerified).toBe(true);
    expect(verification.checks.some((c) => c.name === 'free space')).toBe(false);
    expect(await scratchDatabasesOn(verifyCluster!.url)).toEqual([]);
    const verifyRoles = await withAdminClient(verifyCluster!.url, async (c) => (await c.query(`select rolname from pg_roles where rolname = 'flightdeck_verify'`)).rows);
    expect(verifyRoles).toEqual([{ rolname: 'flightdeck_verify' }]);
  });

  it('verifies on the source server as a role that may not read its disk space, saying the room was not measured', async () => {
    const verification = await backUpAndVerify('notes');

    expect(verification.isVerified).toBe(true);
    expect(verification.checks.find((c) => c.name === 'free space')).toMatchObject({
      isPassed: true,
      detail: expect.stringMatching(/^not measured: role orders_app_\w+ may not read the server's disk space \(needs superuser, or pg_execute_server_program and pg_read_all_settings\); the scratch copy needs about /),
    });
  });
});
