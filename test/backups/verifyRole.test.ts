// Verification restores app-writable dumps: it runs as an unprivileged role, and sweeps the scratch
// databases crashed verifications left behind (issue 15.6, 17.7).
import { MockActivityEnvironment } from '@temporalio/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DumpResult } from '../../activities/backup/dump.js';
import type { VerificationResult } from '../../activities/backup/verify.js';
import { createDatabase, withAdminClient } from '../helpers/postgres.js';
import { useBackupTestEnvironment } from './helpers/backupTestEnvironment.js';

const harness = useBackupTestEnvironment({ hasWorkflows: false });
const trigger = { source: 'api' as const, actor: 'alice' };

beforeAll(async () => {
  const url = await createDatabase(harness.serverUrl, 'app');
  // The app's own code in an index expression: it refuses to run as a superuser, as a trap would not.
  await withAdminClient(url, (c) => c.query(`
    create role app_writer_${new URL(url).pathname.slice(5)} nologin;
    create function guarded(n int) returns int immutable language plpgsql as $$
      begin
        if (select rolsuper from pg_roles where rolname = current_user) then raise exception 'index expression ran as superuser %', current_user; end if;
        return n;
      end $$;
    create table notes (id int);
    insert into notes select generate_series(1, 100);
    alter table notes owner to app_writer_${new URL(url).pathname.slice(5)};
    grant create, usage on schema public to app_writer_${new URL(url).pathname.slice(5)};
    set role app_writer_${new URL(url).pathname.slice(5)};
    create index notes_guarded on notes (guarded(id));
    reset role;`));
  harness.setSecret('APP_DATABASE_URL', url);
  harness.setConfig({ databases: { app: { secret: 'APP_DATABASE_URL' } } });
});

async function backUpAndVerify(backupId: string): Promise<VerificationResult> {
  const activities = harness.activities();
  const dump = await new MockActivityEnvironment().run(activities.dumpDatabase, {
    backupId, database: 'app', app: 'unknown', releaseVersion: 'unknown', compressionLevel: 6, trigger,
  }) as DumpResult;
  return await new MockActivityEnvironment().run(activities.verifyBackup, { database: 'app', series: dump.series, backupId }) as VerificationResult;
}

async function scratchDatabases(): Promise<string[]> {
  return withAdminClient(harness.serverUrl, async (c) => (await c.query<{ datname: string }>(`select datname from pg_database where datname like 'flightdeck\\_verify\\_%' order by 1`)).rows.map((r) => r.datname));
}

describe('verification', () => {
  it('restores as an unprivileged role, so the dump\'s own code never runs as a superuser', async () => {
    const verification = await backUpAndVerify('app-unprivileged');

    expect(verification.checks.filter((c) => !c.isPassed)).toEqual([]);
    expect(verification.isVerified).toBe(true);
    const role = await withAdminClient(harness.serverUrl, async (c) => (await c.query(`select rolsuper, rolcanlogin from pg_roles where rolname = 'flightdeck_verify'`)).rows);
    expect(role).toEqual([{ rolsuper: false, rolcanlogin: false }]);
  });

  it('sweeps scratch databases older than a day that crashed verifications left, and only those', async () => {
    const recent = `flightdeck_verify_${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}_0badf00d`;
    await withAdminClient(harness.serverUrl, async (c) => {
      await c.query('create database flightdeck_verify_20250101000000_deadbeef');
      await c.query(`create database ${recent}`);
    });
    try {
      await backUpAndVerify('app-sweep');
      expect(await scratchDatabases()).toEqual([recent]);
    } finally {
      await withAdminClient(harness.serverUrl, (c) => c.query(`drop database if exists ${recent}`));
    }
  });
});
