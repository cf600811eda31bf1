// Helpers shared by the backup benchmarks (bench/backup.ts, bench/backupParallel.ts): running an
// activity outside a worker, sampling memory, age keys, a client, and how figures are printed.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { MockActivityEnvironment } from '@temporalio/testing';
import pg from 'pg';
import { startLocalPostgres, type LocalPostgres } from '../scripts/localPostgres.js';

export async function ageKeygen(): Promise<{ recipient: string; identity: string }> {
  const { stdout } = await promisify(execFile)('age-keygen', []);
  return { recipient: /public key: (age1\w+)/.exec(stdout)![1]!, identity: /^(AGE-SECRET-KEY-1\w+)$/m.exec(stdout)![1]! };
}

/** Runs an activity with a heartbeat and cancellation context, outside any worker. */
export function runActivity<A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> {
  return new MockActivityEnvironment().run(fn, ...args) as Promise<R>;
}

/** Samples this process's RSS, and the high-water mark of any pg_dump child, every 100 ms. */
export function sampleRss(): { stop(): { peakRssBytes: number; pgDumpPeakRssBytes: number } } {
  let peakRssBytes = process.memoryUsage().rss;
  let pgDumpPeakRssBytes = 0;
  const timer = setInterval(() => {
    peakRssBytes = Math.max(peakRssBytes, process.memoryUsage().rss);
    for (const pid of childPgDumps()) pgDumpPeakRssBytes = Math.max(pgDumpPeakRssBytes, highWaterMark(pid));
  }, 100);
  return { stop: () => { clearInterval(timer); return { peakRssBytes, pgDumpPeakRssBytes }; } };
}

function childPgDumps(): number[] {
  return fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e)).map(Number).filter((pid) => {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.includes('(pg_dump)') && Number(stat.split(') ')[1]!.split(' ')[1]) === process.pid;
    } catch {
      return false;
    }
  });
}

function highWaterMark(pid: number): number {
  try {
    const kib = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kib ? Number(kib) * 1024 : 0;
  } catch {
    return 0;
  }
}

export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
export const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);

export function formatBytes(bytes: number): string {
  return bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(2)} GiB` : `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

/** Runs a benchmark on a throwaway PostgreSQL with a scratch directory, both removed afterwards. */
export async function withBenchPostgres(prefix: string, run: (server: LocalPostgres, workDir: string) => Promise<void>): Promise<void> {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const server = await startLocalPostgres();
  try {
    await run(server, workDir);
  } finally {
    await server.stop();
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}
