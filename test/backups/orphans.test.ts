// A failed dump leaves nothing stored, and objects with no manifest that crashed runs left behind are
// swept by the next backup of their database (issue 17.6). Real PostgreSQL and pg_dump.
import fs from 'node:fs';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DumpResult } from '../../activities/backup/dump.js';
import { createDatabase } from '../helpers/postgres.js';
import { useBackupTestEnvironment } from './helpers/backupTestEnvironment.js';
import { withClient } from './helpers/sampleDatabase.js';

const harness = useBackupTestEnvironment({ hasWorkflows: false });
const trigger = { source: 'api' as const, actor: 'alice' };
const seriesDir = () => path.join(harness.storageDir, 'unknown', 'stock');

beforeAll(async () => {
  const url = await createDatabase(harness.serverUrl, 'stock');
  await withClient(url, (c) => c.query('create table items as select g as id from generate_series(1, 1000) g'));
  harness.setSecret('STOCK_DATABASE_URL', url);
  harness.setConfig({ databases: { stock: { secret: 'STOCK_DATABASE_URL' } } });
});

function dump(backupId: string): Promise<DumpResult> {
  return new MockActivityEnvironment().run(harness.activities().dumpDatabase, {
    backupId, database: 'stock', app: 'unknown', releaseVersion: 'v1', compressionLevel: 6, trigger,
  }) as Promise<DumpResult>;
}

function plant(name: string, ageHours: number): void {
  const file = path.join(seriesDir(), name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, 'left behind');
  const at = new Date(Date.now() - ageHours * 3_600_000);
  fs.utimesSync(file, at, at);
}

const filesOfSeries = () => fs.readdirSync(seriesDir()).sort();

describe('orphaned backup objects', () => {
  it('deletes the stored dump when the dump activity fails after writing it', async () => {
    // The manifest cannot be written (its name is taken by a directory): the dump is already stored.
    fs.mkdirSync(path.join(seriesDir(), 'stock-failing.manifest.json', 'in-the-way'), { recursive: true });
    try {
      const failure = await dump('stock-failing').catch((err: unknown) => err);

      expect(failure).toBeInstanceOf(Error);
      expect(filesOfSeries().filter((name) => name.startsWith('stock-failing') && name !== 'stock-failing.manifest.json')).toEqual([]);
    } finally {
      fs.rmSync(path.join(seriesDir(), 'stock-failing.manifest.json'), { recursive: true, force: true });
    }
  });

  it('sweeps dumps without a manifest and unfinished writes older than a day, and keeps young and catalogued ones', async () => {
    const catalogued = await dump('stock-catalogued');
    for (const file of filesOfSeries().filter((name) => name.startsWith('stock-catalogued'))) {
      const old = new Date(Date.now() - 72 * 3_600_000);
      fs.utimesSync(path.join(seriesDir(), file), old, old);
    }
    plant('stock-crashed_release-v1.dump', 30);
    plant('stock-crashed.globals.sql', 30);
    plant('stock-killed_release-v1.dump.partial-0badf00d', 30);
    plant('stock-killed.manifest.json.partial-1234abcd', 30);
    plant('stock-running_release-v1.dump', 1);
    plant('stock-writing_release-v1.dump.partial-feedbeef', 0);

    const next = await dump('stock-next');

    expect(next.sweptOrphans?.map((key) => path.basename(key)).sort()).toEqual([
      'stock-crashed.globals.sql', 'stock-crashed_release-v1.dump', 'stock-killed.manifest.json.partial-1234abcd', 'stock-killed_release-v1.dump.partial-0badf00d',
    ]);
    expect(filesOfSeries()).toEqual([
      'stock-catalogued.globals.sql', 'stock-catalogued.manifest.json', path.basename(catalogued.location),
      'stock-next.globals.sql', 'stock-next.manifest.json', path.basename(next.location),
      'stock-running_release-v1.dump', 'stock-writing_release-v1.dump.partial-feedbeef',
    ].sort());
    expect(harness.logs.join('\n')).toContain('deleted 4 orphaned backup object(s)');
  });
});
