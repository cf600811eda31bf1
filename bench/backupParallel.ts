// Parallel dump and restore-verify benchmark (issue 23.4): `npx tsx bench/backupParallel.ts`.
// On a throwaway PostgreSQL, a database with many tables: BENCH_TABLES (20) tables of BENCH_TABLE_MB
// (50) MB each, with an index, besides pgbench's (scale BENCH_SCALE, 10). It times, at compression 6:
//   - plain `pg_dump -Fc > file` and plain `pg_dump -Fd -j 2 -f dir`;
//   - the backup activity's dump with parallelJobs 1 (custom, streamed) and 2 (directory, packed);
//   - plain `pg_restore` of the file and plain `pg_restore -j 2` of the directory, into a new database;
//   - the verification activity (checksum, --list, scratch restore, inventory) of each backup, and
//     of the custom backup restored with --jobs=2 from a copy on the worker;
// and prints a table with the verify time as a ratio of the bare pg_restore (goal ≤ 1.2×).
// Needs about 3 × the database's size of disk. Small run: BENCH_TABLES=4 BENCH_TABLE_MB=5 BENCH_SCALE=1.
// Prints figures; it passes or fails nothing.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createBackupActivities } from '../activities/backup/index.js';
import { loadEnvConfig, parseAppsConfig } from '../lib/config.js';
import { createLogger } from '../lib/log.js';
import type { LocalPostgres } from '../scripts/localPostgres.js';
import { formatBytes, log, runActivity, sampleRss, seconds, withBenchPostgres, withClient } from './backupSupport.js';

const TABLES = Number(process.env.BENCH_TABLES ?? 20);
const TABLE_MB = Number(process.env.BENCH_TABLE_MB ?? 50);
const SCALE = Number(process.env.BENCH_SCALE ?? 10);
const JOBS = 2;
const COMPRESSION = 6;
const SECRET = 'BENCH_DATABASE_URL';
/** About what one row of the bench tables takes on disk (tuple header, bigint, 96-char text, int, timestamptz). */
const ROW_BYTES = 160;

async function main(): Promise<void> {
  await withBenchPostgres('flightdeck-bench-parallel-', runBenchmark);
}

interface Timed { durationMs: number; sizeBytes?: number }

async function runBenchmark(server: LocalPostgres, workDir: string): Promise<void> {
  const url = new URL(server.url);
  url.pathname = '/bench';
  await withClient(server.url, (c) => c.query('create database bench'));
  const libpqEnv = { PATH: process.env.PATH ?? '', PGHOST: url.hostname, PGPORT: url.port, PGUSER: 'postgres', PGPASSWORD: decodeURIComponent(url.password), PGDATABASE: 'bench' };
  const databaseBytes = await createManyTables(server, url.toString(), libpqEnv);

  process.env[SECRET] = url.toString();
  const config = parseAppsConfig({
    databases: { serial: { secret: SECRET, compressionLevel: COMPRESSION }, parallel: { secret: SECRET, compressionLevel: COMPRESSION, parallelJobs: JOBS } },
    storage: { type: 'local', dir: path.join(workDir, 'backups') },
  });
  const activities = createBackupActivities({
    env: loadEnvConfig({ PG_BIN_DIR: server.binDir, FLIGHTDECK_BACKUP_SPOOL_DIR: path.join(workDir, 'spool') }),
    logger: createLogger({ level: 'warn' }), loadAppsConfig: () => config,
  });
  const tool = (name: string) => path.join(server.binDir, name);

  // Dumps: plain first, then the activity, for each of j=1 and j=2.
  const plainFile = path.join(workDir, 'plain.dump');
  const plainDir = path.join(workDir, 'plain-dir');
  const plainDumpFc = await timed('plain pg_dump -Fc > file', () => runTool(tool('pg_dump'), ['--format=custom', `--compress=${COMPRESSION}`], libpqEnv, plainFile), () => fileBytes(plainFile));
  const plainDumpFd = await timed(`plain pg_dump -Fd -j ${JOBS}`, () => runTool(tool('pg_dump'), ['--format=directory', `--jobs=${JOBS}`, `--compress=${COMPRESSION}`, `--file=${plainDir}`], libpqEnv), () => dirBytes(plainDir));
  const ours = [];
  for (const database of ['serial', 'parallel'] as const) {
    const rss = sampleRss();
    const startedAt = Date.now();
    const dump = await runActivity(activities.dumpDatabase, {
      backupId: `bench-${database}`, database, app: 'bench', releaseVersion: 'unknown', compressionLevel: COMPRESSION, trigger: { source: 'cli' as const, actor: 'bench' },
    });
    ours.push({ dump, activityMs: Date.now() - startedAt, ...rss.stop() });
    log(`backup activity (${database}): ${formatBytes(dump.sizeBytes)} in ${seconds(dump.dumpDurationMs)} (whole activity ${seconds(ours.at(-1)!.activityMs)})`);
  }

  // Restores: bare pg_restore into a new database, then the verification activity.
  const bareRestore = async (label: string, args: string[]) => {
    await withClient(server.url, (c) => c.query('create database bare_restore template template0'));
    try {
      return await timed(label, () => runTool(tool('pg_restore'), ['--dbname=bare_restore', '--exit-on-error', '--no-owner', '--no-acl', ...args], libpqEnv));
    } finally {
      await withClient(server.url, (c) => c.query('drop database bare_restore with (force)'));
    }
  };
  const bareFile = await bareRestore('plain pg_restore file', [plainFile]);
  const bareDir = await bareRestore(`plain pg_restore -j ${JOBS} dir`, [`--jobs=${JOBS}`, plainDir]);
  const verifyOf = async (label: string, database: string, backupId: string, series: string) => {
    const rss = sampleRss();
    const verification = await runActivity(activities.verifyBackup, { database, series, backupId });
    const peak = rss.stop();
    const failed = verification.checks.filter((c) => !c.isPassed).map((c) => `${c.name}: ${c.detail}`);
    log(`${label}: ${seconds(verification.durationMs)} (${verification.isVerified ? 'verified' : `NOT verified: ${failed.join('; ')}`}); peak RSS ${formatBytes(peak.peakRssBytes)}`);
    return { durationMs: verification.durationMs, isVerified: verification.isVerified, peakRssBytes: peak.peakRssBytes };
  };
  const [serial, parallel] = ours;
  const verifySerial = await verifyOf('verify, j=1 (custom, streamed)', 'serial', serial!.dump.backupId, serial!.dump.series);
  const verifyParallel = await verifyOf(`verify, j=${JOBS} (directory-tar, unpacked)`, 'parallel', parallel!.dump.backupId, parallel!.dump.series);
  // The custom backup, verified where parallelJobs is 2: copied to the spool, pg_restore --jobs=2.
  const verifyCustomJobs = await verifyOf(`verify custom with --jobs=${JOBS} (copied)`, 'parallel', serial!.dump.backupId, serial!.dump.series);

  const perSecond = (bytes: number, ms: number) => `${formatBytes(bytes / (ms / 1000))}/s`;
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  const rows: string[][] = [
    ['plain pg_dump', `-Fc: ${seconds(plainDumpFc.durationMs)}, ${formatBytes(plainDumpFc.sizeBytes!)} (${perSecond(databaseBytes, plainDumpFc.durationMs)} of database)`,
      `-Fd -j ${JOBS}: ${seconds(plainDumpFd.durationMs)}, ${formatBytes(plainDumpFd.sizeBytes!)} (${perSecond(databaseBytes, plainDumpFd.durationMs)})`],
    ['backup activity dump', `${seconds(serial!.dump.dumpDurationMs)}, ${formatBytes(serial!.dump.sizeBytes)} (${perSecond(databaseBytes, serial!.dump.dumpDurationMs)})`,
      `${seconds(parallel!.dump.dumpDurationMs)}, ${formatBytes(parallel!.dump.sizeBytes)} (${perSecond(databaseBytes, parallel!.dump.dumpDurationMs)})`],
    ['dump time, activity / plain', ratio(serial!.dump.dumpDurationMs, plainDumpFc.durationMs), ratio(parallel!.dump.dumpDurationMs, plainDumpFd.durationMs)],
    ['peak RSS during the dump', formatBytes(serial!.peakRssBytes), formatBytes(parallel!.peakRssBytes)],
    ['plain pg_restore', `file: ${seconds(bareFile.durationMs)}`, `-j ${JOBS} dir: ${seconds(bareDir.durationMs)}`],
    ['restore-verify activity', `${seconds(verifySerial.durationMs)}${verifySerial.isVerified ? '' : ' NOT verified'}`,
      `${seconds(verifyParallel.durationMs)}${verifyParallel.isVerified ? '' : ' NOT verified'}`],
    ['verify / bare pg_restore (goal ≤ 1.2×)', ratio(verifySerial.durationMs, bareFile.durationMs), ratio(verifyParallel.durationMs, bareDir.durationMs)],
    ['verify vs j=1 bare pg_restore', '—', ratio(verifyParallel.durationMs, bareFile.durationMs)],
    [`custom backup verified with --jobs=${JOBS}`, '—', `${seconds(verifyCustomJobs.durationMs)} (${ratio(verifyCustomJobs.durationMs, bareFile.durationMs)} of j=1 bare)${verifyCustomJobs.isVerified ? '' : ' NOT verified'}`],
  ];
  console.log('\n=== parallel dump and restore-verify ===');
  console.log(`database: ${formatBytes(databaseBytes)} (${TABLES} tables × ${TABLE_MB} MB + pgbench scale ${SCALE}); compression ${COMPRESSION}; ${os.cpus().length} CPUs; load before: ${os.loadavg()[0]!.toFixed(2)}`);
  console.log(markdownTable(['', 'j=1', `j=${JOBS}`], rows));
}

/** pgbench's tables, then TABLES tables of about TABLE_MB MB each, with an index each (restores build them). */
async function createManyTables(server: LocalPostgres, url: string, libpqEnv: Record<string, string>): Promise<number> {
  const startedAt = Date.now();
  log(`pgbench -i -s ${SCALE}, then ${TABLES} tables of ${TABLE_MB} MB …`);
  await promisify(execFile)(path.join(server.binDir, 'pgbench'), ['-i', '-s', String(SCALE), '-q'], { env: libpqEnv, maxBuffer: 64 * 1024 * 1024 });
  const rows = Math.round((TABLE_MB * 1024 * 1024) / ROW_BYTES);
  await withClient(url, async (c) => {
    for (let table = 1; table <= TABLES; table++) {
      const name = `items_${String(table).padStart(2, '0')}`;
      await c.query(`create table ${name} (id bigint primary key, payload text not null, bucket int not null, created_at timestamptz not null)`);
      await c.query(`insert into ${name} select g, md5(g::text) || md5((g * ${table})::text) || md5((g + ${table})::text), g % 1000, timestamptz '2026-01-01' + g * interval '1 second'
        from generate_series(1, ${rows}) g`);
      await c.query(`create index ${name}_bucket on ${name} (bucket, created_at)`);
    }
    await c.query('vacuum analyze');
  });
  const databaseBytes = await withClient(url, async (c) => Number((await c.query<{ size: string }>('select pg_database_size(current_database()) as size')).rows[0]!.size));
  log(`database: ${formatBytes(databaseBytes)} (made in ${seconds(Date.now() - startedAt)})`);
  return databaseBytes;
}

async function timed(label: string, fn: () => Promise<void>, sizeOf?: () => number): Promise<Timed> {
  const startedAt = Date.now();
  await fn();
  const result = { durationMs: Date.now() - startedAt, sizeBytes: sizeOf?.() };
  log(`${label}: ${seconds(result.durationMs)}${result.sizeBytes === undefined ? '' : `, ${formatBytes(result.sizeBytes)}`}`);
  return result;
}

/** A pg tool with an argument array; stdout to outputFile when given. */
async function runTool(file: string, args: string[], env: Record<string, string>, outputFile?: string): Promise<void> {
  const output = outputFile ? fs.openSync(outputFile, 'w') : 'ignore';
  try {
    const child = spawn(file, args, { env, stdio: ['ignore', output, 'inherit'] });
    const exitCode = await new Promise<number | null>((resolve) => child.once('close', resolve));
    if (exitCode !== 0) throw new Error(`${path.basename(file)} failed with exit code ${exitCode}`);
  } finally {
    if (typeof output === 'number') fs.closeSync(output);
  }
}

const fileBytes = (file: string) => fs.statSync(file).size;
const dirBytes = (dir: string) => fs.readdirSync(dir).reduce((sum, name) => sum + fs.statSync(path.join(dir, name)).size, 0);

function markdownTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
