// Choosing pg_dump and pg_restore per server version, from real client binaries (PostgreSQL 15 is
// the one installed here) and a fake client directory that reports another major.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { chooseClients, createClientSelector, installedClients } from '../../activities/backup/pgClients.js';
import { locatePostgresBinDir } from '../../scripts/localPostgres.js';
import { withAdminClient } from '../helpers/postgres.js';

const fakeDirs: string[] = [];
afterAll(() => { for (const dir of fakeDirs) fs.rmSync(dir, { recursive: true, force: true }); });

/** A bin directory whose pg_dump and pg_restore say they are of this major (and do nothing else). */
function fakeClientDir(version: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `flightdeck-pg${version}-`));
  fakeDirs.push(dir);
  for (const tool of ['pg_dump', 'pg_restore']) {
    fs.writeFileSync(path.join(dir, tool), `#!/bin/sh\necho "${tool} (PostgreSQL) ${version} (fake)"\n`, { mode: 0o755 });
  }
  return dir;
}

describe('pg_dump and pg_restore per server version', () => {
  it('picks the installed 15 clients for the PostgreSQL 15 server, even when a newer client is installed too', async () => {
    const real = locatePostgresBinDir();
    const newer = fakeClientDir('17.2');
    const select = createClientSelector(`${newer}:${real}`);
    const tools = await withAdminClient(inject('postgresUrl'), (client) => select(client));
    const serverMajor = await withAdminClient(inject('postgresUrl'), async (c) => Math.floor(Number((await c.query('show server_version_num')).rows[0].server_version_num) / 10000));

    expect(serverMajor).toBe(15);
    expect(tools).toEqual({ pgDump: path.join(real, 'pg_dump'), pgDumpall: path.join(real, 'pg_dumpall'), pgRestore: path.join(real, 'pg_restore') });
  });

  it('dumps a 16 server with a newer pg_dump but refuses a pg_restore 17 for it, naming what to install', async () => {
    const installs = await installedClients([locatePostgresBinDir(), fakeClientDir('17.0')]);
    expect(installs.map((i) => i.major).sort()).toEqual([15, 17]);

    expect(() => chooseClients(160004, installs)).toThrow(/no pg_restore fits it .*SET transaction_timeout.*Install postgresql-client-16/);
    const only17 = installs.filter((i) => i.major === 17);
    expect(chooseClients(170002, installs)).toEqual({ dump: only17[0], restore: only17[0] });
  });

  it('refuses a server newer than every pg_dump installed, listing the installed clients', async () => {
    const installs = await installedClients([locatePostgresBinDir(), fakeClientDir('14.9'), path.join(os.tmpdir(), 'no-such-dir')]);

    expect(() => chooseClients(160000, installs)).toThrow(/PostgreSQL 16, and pg_dump must be at least that major; installed clients: 14 \(.*\), 15 \(.*\)\. Install postgresql-client-16/);
  });
});
