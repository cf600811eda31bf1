// Starts a throwaway (or, for sandbox mode, persistent) PostgreSQL server as an unprivileged user.
// PostgreSQL refuses to run as root, and CI machines run as root: we run it as `postgres`.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from '../lib/net.js';
import { stopProcess } from './localTemporal.js';

export interface LocalPostgres {
  /** Superuser connection string to the `postgres` database. */
  url: string;
  port: number;
  binDir: string;
  pid: number | undefined;
  stop(): Promise<void>;
}

export interface LocalPostgresOptions {
  /** Keep data here across restarts; a temp dir removed on stop when absent. */
  dataDir?: string;
  port?: number;
  startupTimeoutMs?: number;
  /** Its own process group: a Ctrl-C in the terminal reaches only the supervisor (sandbox mode). */
  isOwnProcessGroup?: boolean;
}

const HOW_TO_INSTALL = 'Install PostgreSQL 15 (Debian: apt-get install -y postgresql-15 postgresql-client-15), or set TEST_DATABASE_URL to an existing server.';

/** The directory holding initdb, postgres, pg_dump and pg_restore. */
export function locatePostgresBinDir(): string {
  const candidates: string[] = [];
  const debianRoot = '/usr/lib/postgresql';
  // PG_BIN_DIR, when set, is the only place looked at: it pins a version.
  if (process.env.PG_BIN_DIR) candidates.push(process.env.PG_BIN_DIR);
  else if (fs.existsSync(debianRoot)) {
    const versions = fs.readdirSync(debianRoot).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => path.join(debianRoot, v, 'bin')));
  }
  if (!process.env.PG_BIN_DIR) {
    try {
      candidates.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim());
    } catch {
      // pg_config is optional; the Debian layout above is the usual place.
    }
  }
  const binDir = candidates.find((dir) => fs.existsSync(path.join(dir, 'initdb')) && fs.existsSync(path.join(dir, 'postgres')));
  if (!binDir) throw new Error(`Cannot start PostgreSQL: initdb and postgres were not found (looked in ${candidates.join(', ') || debianRoot}). ${HOW_TO_INSTALL}`);
  return binDir;
}

interface UnixUser { uid: number; gid: number; name: string }

/** Root must hand the server to an unprivileged account; anyone else runs it as themselves. */
function serverUser(): UnixUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = fs.readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error(`Cannot start PostgreSQL as root without a 'postgres' user to run it. ${HOW_TO_INSTALL}`);
  const [name, , uid, gid] = line.split(':');
  return { name: name!, uid: Number(uid), gid: Number(gid) };
}

export async function startLocalPostgres(options: LocalPostgresOptions = {}): Promise<LocalPostgres> {
  const binDir = locatePostgresBinDir();
  const user = serverUser();
  const isThrowaway = !options.dataDir;
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'flightdeck-pg-'));
  const passwordFile = path.join(dataDir, '..', `${path.basename(dataDir)}.password`);
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (user) fs.chownSync(dataDir, user.uid, user.gid);
  const asUser = user ? { uid: user.uid, gid: user.gid } : {};

  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
    const password = randomBytes(18).toString('base64url');
    fs.writeFileSync(passwordFile, password, { mode: 0o600 });
    // initdb wants an empty data directory, so the password file sits beside it.
    const initPwFile = `${dataDir}.initpw`;
    fs.writeFileSync(initPwFile, password, { mode: 0o600 });
    if (user) fs.chownSync(initPwFile, user.uid, user.gid);
    try {
      execFileSync(path.join(binDir, 'initdb'), ['-D', dataDir, '-U', 'postgres', '-E', 'UTF8', '--no-sync',
        '--auth-host=scram-sha-256', '--auth-local=trust', `--pwfile=${initPwFile}`], { ...asUser, stdio: 'pipe' });
    } catch (err) {
      throw new Error(`initdb failed: ${String((err as { stderr?: unknown }).stderr ?? err)}`);
    } finally {
      fs.rmSync(initPwFile, { force: true });
    }
  }
  const password = fs.readFileSync(passwordFile, 'utf8').trim();
  const port = options.port ?? (await freePort());
  const server = spawn(path.join(binDir, 'postgres'), ['-D', dataDir, '-p', String(port), '-k', dataDir,
    '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200',
    // A test server trades durability for speed; a crash loses nothing we need.
    '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'], { ...asUser, stdio: ['ignore', 'ignore', 'pipe'], detached: options.isOwnProcessGroup ?? false });
  let stderr = '';
  server.stderr?.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-4000); });
  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  try {
    await waitUntilAccepting(server, url, options.startupTimeoutMs ?? 60_000);
  } catch (err) {
    server.kill('SIGKILL');
    throw new Error(`PostgreSQL did not start: ${(err as Error).message}\n${stderr}\n${HOW_TO_INSTALL}`);
  }
  return {
    url, port, binDir, pid: server.pid,
    stop: async () => {
      await stopFast(server);
      if (isThrowaway) {
        fs.rmSync(dataDir, { recursive: true, force: true });
        fs.rmSync(passwordFile, { force: true });
      }
    },
  };
}

async function waitUntilAccepting(server: ChildProcess, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (server.exitCode !== null) throw new Error(`postgres exited with code ${server.exitCode}`);
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.query('select 1');
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`no connection within ${timeoutMs} ms: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 150));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

/** SIGINT is PostgreSQL's "fast shutdown": roll back open transactions and exit. */
async function stopFast(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  server.kill('SIGINT');
  const timer = setTimeout(() => void stopProcess(server, 1000), 10_000);
  await exited;
  clearTimeout(timer);
}
