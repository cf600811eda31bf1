// Which pg_dump and pg_restore to run against a given server. pg_dump must be at least the server's
// major version (an older one refuses: "server version mismatch"); pg_restore should match the
// target's major: pg_restore 17 and later send `SET transaction_timeout`, which servers up to 16
// reject. A machine may have several client majors (Debian: /usr/lib/postgresql/<major>/bin); the
// choice is made per server, from its server_version_num, with an error that says what to install.
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type pg from 'pg';
import { PermanentError, permanentFailure } from '../../lib/errors.js';
import type { PgTools } from './pgTools.js';

export interface PgClientInstall {
  /** undefined: the tools found on PATH. */
  binDir: string | undefined;
  major: number;
}

/** The first major whose pg_restore sends SET transaction_timeout. */
const TRANSACTION_TIMEOUT_MAJOR = 17;
const DEBIAN_CLIENTS = '/usr/lib/postgresql';

/**
 * Where to look: PG_BIN_DIR (one directory, or several separated by ':'), which pins the choice to
 * those; else every /usr/lib/postgresql/<major>/bin, else PATH.
 */
export function candidateBinDirs(pgBinDir: string | undefined): Array<string | undefined> {
  if (pgBinDir) return pgBinDir.split(':').filter(Boolean);
  let installed: string[] = [];
  try {
    installed = fs.readdirSync(DEBIAN_CLIENTS).map((major) => path.join(DEBIAN_CLIENTS, major, 'bin')).filter((dir) => fs.existsSync(path.join(dir, 'pg_dump')));
  } catch {
    // Not a Debian layout: PATH decides.
  }
  return installed.length ? installed : [undefined];
}

/** Each candidate's client major, from `pg_dump --version` ("pg_dump (PostgreSQL) 15.8 (Debian …)"). */
export async function installedClients(binDirs: Array<string | undefined>): Promise<PgClientInstall[]> {
  const installs: PgClientInstall[] = [];
  for (const binDir of binDirs) {
    const pgDump = binDir ? path.join(binDir, 'pg_dump') : 'pg_dump';
    try {
      const { stdout } = await promisify(execFile)(pgDump, ['--version'], { timeout: 10_000 });
      const major = Number(/\(PostgreSQL\)\s+(\d+)/.exec(stdout)?.[1]);
      if (Number.isInteger(major)) installs.push({ binDir, major });
    } catch {
      // Not runnable: not a candidate.
    }
  }
  return installs;
}

export function serverMajorOf(serverVersionNum: number): number {
  return Math.floor(serverVersionNum / 10000);
}

/** pg_dump: the closest major at or above the server's. pg_restore: the server's own major, else the closest above that sends nothing it rejects. */
export function chooseClients(serverVersionNum: number, installs: readonly PgClientInstall[]): { dump: PgClientInstall; restore: PgClientInstall } {
  const serverMajor = serverMajorOf(serverVersionNum);
  const ascending = [...installs].sort((a, b) => a.major - b.major);
  const installed = ascending.length ? ascending.map((i) => `${i.major} (${i.binDir ?? 'PATH'})`).join(', ') : 'none found';
  const dump = ascending.find((i) => i.major >= serverMajor);
  if (!dump) {
    throw permanentFailure(PermanentError.BackupDumpFailed, `the server runs PostgreSQL ${serverMajor}, and pg_dump must be at least that major; installed clients: ${installed}. `
      + `Install postgresql-client-${serverMajor} (or newer) and point PG_BIN_DIR at its bin directory (several may be listed, separated by ':').`);
  }
  const restore = ascending.find((i) => i.major === serverMajor)
    ?? ascending.find((i) => i.major > serverMajor && (serverMajor >= TRANSACTION_TIMEOUT_MAJOR || i.major < TRANSACTION_TIMEOUT_MAJOR));
  if (!restore) {
    throw permanentFailure(PermanentError.BackupRestoreFailed, `the server runs PostgreSQL ${serverMajor}, and no pg_restore fits it (its own major, or a newer one below ${TRANSACTION_TIMEOUT_MAJOR}, `
      + `whose pg_restore would send SET transaction_timeout that this server rejects); installed clients: ${installed}. Install postgresql-client-${serverMajor} and add its bin directory to PG_BIN_DIR.`);
  }
  return { dump, restore };
}

export function toolsOf(choice: { dump: PgClientInstall; restore: PgClientInstall }): PgTools {
  const tool = (install: PgClientInstall, name: string) => (install.binDir ? path.join(install.binDir, name) : name);
  return { pgDump: tool(choice.dump, 'pg_dump'), pgDumpall: tool(choice.dump, 'pg_dumpall'), pgRestore: tool(choice.restore, 'pg_restore') };
}

/** The tools for the server client is connected to; installs are looked up once per worker. */
export function createClientSelector(pgBinDir: string | undefined) {
  let installs: Promise<PgClientInstall[]> | undefined;
  return async (client: pg.ClientBase): Promise<PgTools> => {
    installs ??= installedClients(candidateBinDirs(pgBinDir));
    const { rows: [row] } = await client.query<{ num: string }>("select current_setting('server_version_num') as num");
    return toolsOf(chooseClients(Number(row!.num), await installs));
  };
}
