// Backup benchmark: `npx tsx bench/backup.ts` (about 5 minutes on 2 cores; needs ~4 GB of disk).
// On a throwaway PostgreSQL with a ≥ 1 GB pgbench database (scale 70, BENCH_SCALE to change it), it
// compares the backup activity's dump (streamed to storage with SHA-256) with a plain
// `pg_dump -Fc > file` at compression 6 and 0, samples the peak RSS of the process doing the dump,
// and times restore-verify; then the same dump and verification encrypted with age (the cost of
// `encryption`, docs/backups.md). Needs the age CLI (apt-get install age).
// Prints figures; it passes or fails nothing.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { createBackupActivities } from '../activities/backup/index.js';
import { loadEnvConfig, parseAppsConfig } from '../lib/config.js';
import { createLogger } from '../lib/log.js';
import type { LocalPostgres } from '../scripts/localPostgres.js';
import { ageKeygen, formatBytes, log, runActivity, sampleRss, seconds, withBenchPostgres, withClient } from './backupSupport.js';

const SCALE = Number(process.env.BENCH_SCALE ?? 70);
const ROUNDS = 2;
/** The default level, then none: the second pushes the whole database's bytes through the pipeline. */
const COMPRESSION_LEVELS = [6, 0];
const SECRET = 'BENCH_DATABASE_URL';

interface Sample { durationMs: number; sizeBytes: number }

async function main(): Promise<void> {
  await withBenchPostgres('flightdeck-bench-', runBenchmark);
}

async function runBenchmark(server: LocalPostgres, workDir: string): Promise<void> {
  const url = new URL(server.url);
  url.pathname = '/bench';
  await withClient(server.url, (c) => c.query('create database bench'));
  const libpqEnv = { PATH: process.env.PATH ?? '', PGHOST: url.hostname, PGPORT: url.port, PGUSER: 'postgres', PGPASSWORD: decodeURIComponent(url.password), PGDATABASE: 'bench' };
  log(`pgbench -i -s ${SCALE} …`);
  const initStartedAt = Date.now();
  await promisify(execFile)(path.join(server.binDir, 'pgbench'), ['-i', '-s', String(SCALE), '-q'], { env: libpqEnv, maxBuffer: 64 * 1024 * 1024 });
  const databaseBytes = await withClient(url.toString(), async (c) => Number((await c.query<{ size: string }>('select pg_database_size(current_database()) as size')).rows[0]!.size));
  log(`database: ${formatBytes(databaseBytes)} (initialised in ${seconds(Date.now() - initStartedAt)})`);

  process.env[SECRET] = url.toString();
  const ageKey = await ageKeygen();
  process.env[AGE_IDENTITY_SECRET] = ageKey.identity;
  const config = parseAppsConfig({
    databases: { bench: { secret: SECRET }, [ENCRYPTED]: { secret: SECRET, encryption: { recipients: [ageKey.recipient], identitySecret: AGE_IDENTITY_SECRET } } },
    storage: { type: 'local', dir: path.join(workDir, 'backups') },
  });
  const activities = createBackupActivities({
    env: loadEnvConfig({ PG_BIN_DIR: server.binDir }), logger: createLogger({ level: 'warn' }), loadAppsConfig: () => config,
  });
  const results: DumpComparison[] = [];
  for (const compressionLevel of COMPRESSION_LEVELS) {
    results.push(await compareDumps({ binDir: server.binDir, libpqEnv, workDir, activities, compressionLevel }));
  }

  const verified = results[0]!.bestOurs;
  const rssBefore = process.memoryUsage().rss;
  const rss = sampleRss();
  const verifyStartedAt = Date.now();
  const verification = await runActivity(activities.verifyBackup, { database: 'bench', series: 'bench/bench/', backupId: verified.backupId });
  const verifyMs = Date.now() - verifyStartedAt;
  const verifyPeaks = rss.stop();
  const encrypted = [];
  for (const compressionLevel of COMPRESSION_LEVELS) encrypted.push({ compressionLevel, ...await measureEncryption(activities, compressionLevel) });

  console.log('\n=== backup benchmark ===');
  console.log(`database                      ${formatBytes(databaseBytes)} (pgbench scale ${SCALE})`);
  for (const { compressionLevel, bestPlain, bestPlainSynced, bestOurs, ours } of results) {
    const perDatabaseByte = (sample: Sample) => `${formatBytes(databaseBytes / (sample.durationMs / 1000))}/s of database`;
    console.log(`-- compression ${compressionLevel}: dump ${formatBytes(bestOurs.sizeBytes)}`);
    console.log(`plain pg_dump -Fc > file      ${describe(bestPlain)} (${perDatabaseByte(bestPlain)}; best of ${ROUNDS})`);
    console.log(`plain, then fsync             ${describe(bestPlainSynced)} (${perDatabaseByte(bestPlainSynced)}; best of ${ROUNDS})`);
    console.log(`backup activity (dump)        ${describe(bestOurs)} (${perDatabaseByte(bestOurs)}; best of ${ROUNDS}; streamed to storage with SHA-256, fsynced)`);
    const ratio = (sample: Sample, baseline: Sample) => (throughput(sample) / throughput(baseline)).toFixed(3);
    console.log(`throughput ratio              ${ratio(bestOurs, bestPlain)} (goal ≥ 0.95); vs plain + fsync ${ratio(bestOurs, bestPlainSynced)}; `
      + `whole activity incl. snapshot, inventory, manifest: ${ratio({ ...bestOurs, durationMs: bestOurs.activityMs }, bestPlain)}`);
    console.log(`RSS of the activity process   ${ours.map((o) => `${formatBytes(o.rssBeforeBytes)} → peak ${formatBytes(o.peakRssBytes)}`).join(', ')} (goal flat < 200 MB); pg_dump itself peaks at ${ours.map((o) => formatBytes(o.pgDumpPeakRssBytes)).join(', ')}`);
  }
  console.log(`restore-verify                ${seconds(verifyMs)} for the compression-${results[0]!.compressionLevel} dump (${verification.isVerified ? 'verified' : 'NOT verified'}: ${verification.checks.map((c) => `${c.name} ${c.isPassed ? 'ok' : 'FAILED'}`).join(', ')})`);
  console.log(`RSS while verifying           ${formatBytes(rssBefore)} → peak ${formatBytes(verifyPeaks.peakRssBytes)}`);
  for (const [index, { compressionLevel, best, verifyMs: encryptedVerifyMs, isVerified }] of encrypted.entries()) {
    const unencrypted = results[index]!.bestOurs;
    console.log(`-- encrypted with age (compression ${compressionLevel}): dump ${formatBytes(best.sizeBytes)}`);
    console.log(`backup activity, encrypted    ${describe(best)} (best of ${ROUNDS}); throughput ratio to unencrypted ${(throughput(best) / throughput(unencrypted)).toFixed(3)}; `
      + `peak RSS ${formatBytes(best.peakRssBytes)}`);
    if (index === 0) console.log(`restore-verify, encrypted     ${seconds(encryptedVerifyMs)} (${isVerified ? 'verified' : 'NOT verified'}); ratio to unencrypted ${(encryptedVerifyMs / verifyMs).toFixed(3)}`);
  }
}

const ENCRYPTED = 'bench-age';
const AGE_IDENTITY_SECRET = 'BENCH_AGE_IDENTITY';

/** The backup activity's dump and verification of the same database, encrypted for one age recipient. */
async function measureEncryption(activities: ReturnType<typeof createBackupActivities>, compressionLevel: number) {
  const dumps: OurDump[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const backupId = `bench-age-${compressionLevel}-${round}`;
    const rssBeforeBytes = process.memoryUsage().rss;
    const rss = sampleRss();
    const startedAt = Date.now();
    const dump = await runActivity(activities.dumpDatabase, {
      backupId, database: ENCRYPTED, app: 'bench', releaseVersion: 'unknown', compressionLevel, trigger: { source: 'cli' as const, actor: 'bench' },
    });
    dumps.push({ durationMs: dump.dumpDurationMs, sizeBytes: dump.sizeBytes, activityMs: Date.now() - startedAt, backupId, rssBeforeBytes, ...rss.stop() });
    log(`encrypted, compression ${compressionLevel}, round ${round}: backup activity: ${describe(dumps.at(-1)!)}`);
  }
  const best = dumps.reduce((a, b) => (throughput(b) > throughput(a) ? b : a));
  if (compressionLevel !== COMPRESSION_LEVELS[0]) return { best, verifyMs: 0, isVerified: false };
  const verifyStartedAt = Date.now();
  const verification = await runActivity(activities.verifyBackup, { database: ENCRYPTED, series: `bench/${ENCRYPTED}/`, backupId: best.backupId });
  return { best, verifyMs: Date.now() - verifyStartedAt, isVerified: verification.isVerified };
}

interface OurDump extends Sample {
  backupId: string;
  activityMs: number;
  rssBeforeBytes: number;
  peakRssBytes: number;
  pgDumpPeakRssBytes: number;
}

interface DumpComparison {
  compressionLevel: number;
  bestPlain: Sample;
  /** The same, made durable (fsync) as the backup's storage write is. */
  bestPlainSynced: Sample;
  bestOurs: OurDump;
  ours: OurDump[];
}

interface ComparisonSetup {
  binDir: string;
  libpqEnv: Record<string, string>;
  workDir: string;
  activities: ReturnType<typeof createBackupActivities>;
  compressionLevel: number;
}

/** Alternates plain pg_dump and the backup activity, ROUNDS times each, at one compression level. */
async function compareDumps(setup: ComparisonSetup): Promise<DumpComparison> {
  const plain: Sample[] = [];
  const plainSynced: Sample[] = [];
  const ours: OurDump[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const plainFile = path.join(setup.workDir, `plain-${setup.compressionLevel}-${round}.dump`);
    plain.push(await plainDump(setup.binDir, setup.libpqEnv, plainFile, setup.compressionLevel, false));
    log(`compression ${setup.compressionLevel}, round ${round}: plain pg_dump -Fc > file: ${describe(plain.at(-1)!)}`);
    plainSynced.push(await plainDump(setup.binDir, setup.libpqEnv, plainFile, setup.compressionLevel, true));
    log(`compression ${setup.compressionLevel}, round ${round}: plain pg_dump -Fc > file, then fsync: ${describe(plainSynced.at(-1)!)}`);
    fs.rmSync(plainFile);

    const backupId = `bench-${setup.compressionLevel}-${round}`;
    const rssBeforeBytes = process.memoryUsage().rss;
    const rss = sampleRss();
    const startedAt = Date.now();
    const dump = await runActivity(setup.activities.dumpDatabase, {
      backupId, database: 'bench', app: 'bench', releaseVersion: 'unknown', compressionLevel: setup.compressionLevel, trigger: { source: 'cli' as const, actor: 'bench' },
    });
    ours.push({ durationMs: dump.dumpDurationMs, sizeBytes: dump.sizeBytes, activityMs: Date.now() - startedAt, backupId, rssBeforeBytes, ...rss.stop() });
    const last = ours.at(-1)!;
    log(`compression ${setup.compressionLevel}, round ${round}: backup activity: ${describe(last)} (whole activity ${seconds(last.activityMs)}); `
      + `RSS ${formatBytes(rssBeforeBytes)} → peak ${formatBytes(last.peakRssBytes)}; pg_dump peak ${formatBytes(last.pgDumpPeakRssBytes)}`);
  }
  const best = <T extends Sample>(samples: T[]) => samples.reduce((a, b) => (throughput(b) > throughput(a) ? b : a));
  return { compressionLevel: setup.compressionLevel, bestPlain: best(plain), bestPlainSynced: best(plainSynced), bestOurs: best(ours), ours };
}

async function plainDump(binDir: string, env: Record<string, string>, file: string, compressionLevel: number, isSynced: boolean): Promise<Sample> {
  const startedAt = Date.now();
  const output = fs.openSync(file, 'w');
  const dump = spawn(path.join(binDir, 'pg_dump'), ['--format=custom', `--compress=${compressionLevel}`], { env, stdio: ['ignore', output, 'inherit'] });
  const exitCode = await new Promise<number | null>((resolve) => dump.once('close', resolve));
  if (isSynced) fs.fsyncSync(output);
  fs.closeSync(output);
  if (exitCode !== 0) throw new Error(`plain pg_dump failed with exit code ${exitCode}`);
  return { durationMs: Date.now() - startedAt, sizeBytes: fs.statSync(file).size };
}

const throughput = (sample: Sample) => sample.sizeBytes / (sample.durationMs / 1000);
const describe = (sample: Sample) => `${formatBytes(sample.sizeBytes)} in ${seconds(sample.durationMs)} = ${formatBytes(throughput(sample))}/s`;

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
