import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { golangMigrateLockKey } from '../../activities/migrations/advisoryLock.js';
import { MigrationError } from '../../activities/migrations/errors.js';
import { applyPending, type MigrationRunOutcome } from '../../activities/migrations/migrator.js';
import { RECORD, SHOP_MIGRATIONS, eventually, optionsFor, useMigrationScratch } from './helpers.js';

const scratch = useMigrationScratch();

/**
 * A database whose first migration blocks on a table the test holds locked, so a migrator can be
 * kept holding the migration lock for exactly as long as the test wants.
 */
async function databaseWithGate() {
  const db = await scratch.database();
  await db.query('create table gate (id int)');
  const dir = await scratch.folder({ ...SHOP_MIGRATIONS, '0001_create_users.up.sql': `insert into gate values (1);\n${SHOP_MIGRATIONS['0001_create_users.up.sql']}` });
  const gateKeeper = new pg.Client({ connectionString: db.url });
  await gateKeeper.connect();
  await gateKeeper.query('begin');
  await gateKeeper.query('lock table gate in access exclusive mode');
  const isBlockedOnGate = async () => (await db.query(`select 1 from pg_locks where relation = 'gate'::regclass and not granted`)).length > 0;
  return {
    db, dir, isBlockedOnGate,
    open: async () => { await gateKeeper.query('commit'); await gateKeeper.end(); },
  };
}

describe('the migration lock', () => {
  it('serializes two migrators: the second waits for the first, then finds nothing left to do', async () => {
    const gate = await databaseWithGate();
    const finished: string[] = [];
    const first = applyPending(await optionsFor(gate.db.url, gate.dir), undefined, RECORD).then((o) => { finished.push('first'); return o; });
    await eventually(gate.isBlockedOnGate, 'the first migrator runs its first migration');

    let isSecondWaiting = false;
    const onProgress = (line: string) => { if (line.startsWith('waiting for the migration lock')) isSecondWaiting = true; };
    const second = applyPending(await optionsFor(gate.db.url, gate.dir, { onProgress }), undefined, RECORD).then((o) => { finished.push('second'); return o; });
    await eventually(async () => isSecondWaiting, 'the second migrator waits for the lock');
    expect(finished).toEqual([]);
    await gate.open();

    const [firstOutcome, secondOutcome]: MigrationRunOutcome[] = await Promise.all([first, second]);
    // The second found all four applied: it took the lock only once the first had let it go. Which of
    // the two then settles first is not the lock's business (the first still closes its session).
    expect(firstOutcome.appliedVersions).toEqual([1, 2, 3, 4]);
    expect(secondOutcome.appliedVersions).toEqual([]);
    expect([...finished].sort()).toEqual(['first', 'second']);
    expect(await gate.db.query(`select count(*)::int as runs from flightdeck_migration_history`)).toEqual([{ runs: 4 }]);
  });

  it('gives up after the lock timeout with a clear MigrationLockTimeout, changing nothing', async () => {
    const gate = await databaseWithGate();
    const first = applyPending(await optionsFor(gate.db.url, gate.dir), undefined, RECORD);
    await eventually(gate.isBlockedOnGate, 'the first migrator runs its first migration');

    const failure = await applyPending(await optionsFor(gate.db.url, gate.dir, { lockTimeoutMs: 200 }), undefined, RECORD).catch((e: unknown) => e);

    expect(failure).toBeInstanceOf(MigrationError);
    expect((failure as MigrationError).kind).toBe('lock-timeout');
    expect((failure as MigrationError).message).toMatch(/Another migration is running on this database \(held by PostgreSQL process \d+, application "flightdeck-migrate".*\) and still held the migration lock after 200 ms of waiting\. Nothing was changed\./);
    await gate.open();
    expect((await first).appliedVersions).toEqual([1, 2, 3, 4]);
  });

  it('takes the same lock key as golang-migrate, so a hand-run `migrate up` waits too', () => {
    // Cross-checked against golang-migrate v4.20.1: `migrate up` on database gm_a waited on this key.
    expect(golangMigrateLockKey('gm_a', 'public')).toBe('2950972642');
  });
});
