// A dump is cancellable: cancelling the activity kills pg_dump (its whole process group), closes
// the snapshot connection and leaves nothing in storage. Heartbeats carry {phase, bytes}.
import fs from 'node:fs';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, databaseUrl } from '../helpers/postgres.js';
import { isDumpWaitingForLock, useBackupTestEnvironment, waitFor } from './helpers/backupTestEnvironment.js';
import { withClient } from './helpers/sampleDatabase.js';

const harness = useBackupTestEnvironment({ hasWorkflows: false });
const SECRET = 'ORDERS_DATABASE_URL';
let sourceUrl = '';

beforeAll(async () => {
  sourceUrl = await createDatabase(harness.serverUrl, 'orders');
  await withClient(sourceUrl, (c) => c.query('create table orders as select g as id, md5(g::text) as ref from generate_series(1, 1000) g'));
  harness.setSecret(SECRET, sourceUrl);
  harness.setConfig({ databases: { orders: { secret: SECRET } } });
});

describe('cancelling a dump', () => {
  it('kills pg_dump, releases its connections and stores nothing', async () => {
    const database = new URL(sourceUrl).pathname.slice(1);
    const activity = new MockActivityEnvironment();
    const heartbeats: unknown[] = [];
    activity.on('heartbeat', (details: unknown) => heartbeats.push(details));

    await withClient(databaseUrl(harness.serverUrl, database), async (locker) => {
      // pg_dump waits for this lock, so the dump is reliably in progress when it is cancelled.
      await locker.query('begin');
      await locker.query('lock table orders in access exclusive mode');
      const dumping = activity.run(harness.activities().dumpDatabase, {
        backupId: 'orders-cancelled', database: 'orders', app: 'unknown', releaseVersion: 'unknown', compressionLevel: 6, trigger: { source: 'api' as const, actor: 'alice' },
      }).catch((err: unknown) => err);
      const pgDumpPids = await waitFor(async () => {
        const pids = pgDumpProcessesFor(database);
        return pids.length > 0 && (await isDumpWaitingForLock(harness.serverUrl, database)) ? pids : undefined;
      }, 'pg_dump to wait for the lock');

      activity.cancel();
      expect(await dumping).toBeInstanceOf(CancelledFailure);
      expect(pgDumpPids.filter(isAlive)).toEqual([]);
      await locker.query('rollback');
    });

    await withClient(databaseUrl(harness.serverUrl, 'postgres'), (admin) => waitFor(async () => {
      const { rowCount } = await admin.query(`select 1 from pg_stat_activity where datname = $1 and application_name = 'flightdeck-backup'`, [database]);
      return rowCount === 0 ? true : undefined;
    }, 'the backup connections to close'));
    expect(fs.readdirSync(harness.storageDir, { recursive: true }).filter((f) => String(f).includes('orders-cancelled'))).toEqual([]);
    expect(heartbeats).toContainEqual({ phase: 'dump', bytes: 0 });
  });
});

/** pg_dump processes of this database (other suites may be dumping theirs). */
function pgDumpProcessesFor(database: string): number[] {
  return fs.readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).map(Number).filter((pid) => {
    try {
      const isPgDump = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]!.endsWith('pg_dump');
      return isPgDump && fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`PGDATABASE=${database}`);
    } catch {
      return false;
    }
  });
}

function isAlive(pid: number): boolean {
  try {
    return !fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z');
  } catch {
    return false;
  }
}
