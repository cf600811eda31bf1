// A dump's own sessions survive a database's timeouts, and a dump never queues forever behind a lock.
import fs from 'node:fs';
import { MockActivityEnvironment } from '@temporalio/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DumpResult } from '../../activities/backup/dump.js';
import type { VerificationResult } from '../../activities/backup/verify.js';
import { createDatabase } from '../helpers/postgres.js';
import { useBackupTestEnvironment } from './helpers/backupTestEnvironment.js';
import { withClient } from './helpers/sampleDatabase.js';

const harness = useBackupTestEnvironment({ hasWorkflows: false });
const trigger = { source: 'api' as const, actor: 'alice' };
const urls: Record<string, string> = {};

beforeAll(async () => {
  for (const name of ['strict', 'locked', 'hung']) {
    urls[name] = await createDatabase(harness.serverUrl, name);
    await withClient(urls[name]!, (c) => c.query('create table orders as select g as id, md5(g::text) as ref from generate_series(1, 20000) g'));
    harness.setSecret(`${name.toUpperCase()}_DATABASE_URL`, urls[name]!);
  }
  harness.setConfig({
    databases: {
      strict: { secret: 'STRICT_DATABASE_URL' },
      locked: { secret: 'LOCKED_DATABASE_URL', lockWaitTimeout: '1s' },
      hung: { secret: 'HUNG_DATABASE_URL', lockWaitTimeout: '10m', stallTimeout: '2s' },
    },
  });
});

describe('the sessions of a dump', () => {
  it('dumps and verifies a database whose own settings end idle transactions and statements after 1 ms', async () => {
    const name = new URL(urls.strict!).pathname.slice(1);
    // The snapshot holder sits idle in its transaction for the whole dump: these would kill it.
    await withClient(urls.strict!, (c) => c.query(`alter database ${name} set idle_in_transaction_session_timeout = '1ms'; alter database ${name} set statement_timeout = '1ms'`));
    const activities = harness.activities();

    const dump = await new MockActivityEnvironment().run(activities.dumpDatabase, {
      backupId: 'strict-timeouts', database: 'strict', app: 'unknown', releaseVersion: 'unknown', compressionLevel: 6, trigger,
    }) as DumpResult;
    const verification = await new MockActivityEnvironment().run(activities.verifyBackup, { database: 'strict', series: dump.series, backupId: dump.backupId }) as VerificationResult;

    expect(dump.totalRows).toBe(20000);
    expect(verification.checks.filter((c) => !c.isPassed)).toEqual([]);
    expect(verification.isVerified).toBe(true);
  });

  it('gives up a dump queued behind an ACCESS EXCLUSIVE lock after lockWaitTimeout, storing nothing', async () => {
    const activities = harness.activities();
    const failure = await withClient(urls.locked!, async (locker) => {
      await locker.query('begin; lock table orders in access exclusive mode');
      try {
        return await new MockActivityEnvironment().run(activities.dumpDatabase, {
          backupId: 'locked-out', database: 'locked', app: 'unknown', releaseVersion: 'unknown', compressionLevel: 6, trigger,
        }).catch((err: unknown) => err);
      } finally {
        await locker.query('rollback');
      }
    });

    expect(String((failure as Error).message)).toMatch(/pg_dump failed: canceling statement due to statement timeout/);
    expect(fs.readdirSync(harness.storageDir, { recursive: true }).filter((f) => String(f).includes('locked-out'))).toEqual([]);
  });

  it('stops a pg_dump that writes nothing for stallTimeout, instead of heartbeating for hours, and stores nothing', async () => {
    const activities = harness.activities();
    const startedAt = Date.now();
    const failure = await withClient(urls.hung!, async (locker) => {
      // pg_dump hangs behind this lock, well within its own 10-minute lock wait.
      await locker.query('begin; lock table orders in access exclusive mode');
      try {
        return await new MockActivityEnvironment().run(activities.dumpDatabase, {
          backupId: 'hung-dump', database: 'hung', app: 'unknown', releaseVersion: 'unknown', compressionLevel: 6, trigger,
        }).catch((err: unknown) => err);
      } finally {
        await locker.query('rollback');
      }
    });

    expect(String((failure as Error).message)).toMatch(/pg_dump made no progress for \d+ s \(stalled at 0 bytes\) and was stopped/);
    expect(Date.now() - startedAt).toBeLessThan(60_000);
    expect(fs.readdirSync(harness.storageDir, { recursive: true }).filter((f) => String(f).includes('hung-dump'))).toEqual([]);
  });
});
