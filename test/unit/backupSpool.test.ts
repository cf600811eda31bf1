// The worker's spool for parallel dumps and restores: each use gets its own 0700 directory, removed
// afterwards even when the work fails; directories a killed worker left are swept once older than a day.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sweepStaleSpool, withSpoolDirectory } from '../../activities/backup/spool.js';

const roots: string[] = [];
function spoolRoot(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'flightdeck-spool-test-'));
  roots.push(root);
  return path.join(root, 'spool');
}
afterEach(() => {
  for (const root of roots.splice(0)) fs.rmSync(root, { recursive: true, force: true });
});

describe('backup spool', () => {
  it('gives each use its own 0700 directory and removes it, with what is in it, when the work fails', async () => {
    const root = spoolRoot();
    let seen = '';
    await expect(withSpoolDirectory(root, 'restore', async (dir) => {
      seen = dir;
      expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
      fs.writeFileSync(path.join(dir, 'toc.dat'), 'data in clear');
      throw new Error('pg_restore failed');
    })).rejects.toThrow('pg_restore failed');
    expect(path.dirname(seen)).toBe(root);
    expect(fs.readdirSync(root)).toEqual([]);
  });

  it("sweeps spool directories older than a day, never a younger one or anything that is not Flightdeck's", async () => {
    const root = spoolRoot();
    fs.mkdirSync(root);
    const now = Date.now();
    const make = (name: string, ageHours: number) => {
      const dir = path.join(root, name);
      fs.mkdirSync(path.join(dir, 'dump'), { recursive: true });
      const at = new Date(now - ageHours * 3_600_000);
      fs.utimesSync(dir, at, at);
      return dir;
    };
    const stale = make('flightdeck-dump-20261130010203-aa11bb22', 25);
    make('flightdeck-restore-20261201010203-cc33dd44', 13);
    make('someone-elses', 48);
    expect(await sweepStaleSpool(root, now)).toEqual([stale]);
    expect(fs.readdirSync(root).sort()).toEqual(['flightdeck-restore-20261201010203-cc33dd44', 'someone-elses']);
  });
});
