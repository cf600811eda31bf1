// Room for a scratch restore on the source server: a full disk PANICs a production primary, so a
// verification there first estimates what the copy needs (pg_database_size of the source: tables,
// indexes and bloat, an over-estimate) and what the disk has. PostgreSQL has no SQL function for
// free disk space; the one way from a connection is `df` through COPY FROM PROGRAM, which needs a
// superuser or pg_execute_server_program (and pg_read_all_settings for data_directory). Without
// them the preflight says it could not measure and lets the verification go ahead.
import type pg from 'pg';
import type { CheckResult } from '../../lib/messages.js';
import { formatBytes } from '../../lib/units.js';

export interface DiskSpace {
  availableBytes: number;
  totalBytes: number;
}

/** `df -Pk <dir>` of the server's data directory, read through COPY FROM PROGRAM; undefined with the reason when not allowed. */
export async function serverDiskSpace(client: pg.ClientBase): Promise<DiskSpace | { reason: string }> {
  const { rows: [role] } = await client.query<{ canRunPrograms: boolean }>(
    `select pg_has_role(current_user, 'pg_execute_server_program', 'MEMBER') and pg_has_role(current_user, 'pg_read_all_settings', 'MEMBER') as "canRunPrograms"`);
  if (!role!.canRunPrograms) {
    return { reason: `role ${await currentUser(client)} may not read the server's disk space (needs superuser, or pg_execute_server_program and pg_read_all_settings)` };
  }
  const { rows: [setting] } = await client.query<{ dir: string }>(`select current_setting('data_directory') as dir`);
  const shellQuoted = `'${setting!.dir.replace(/'/g, `'\\''`)}'`;
  await client.query('begin');
  try {
    await client.query('create temporary table flightdeck_df (line text) on commit drop');
    await client.query(`copy flightdeck_df from program ${client.escapeLiteral(`df -Pk ${shellQuoted}`)}`);
    const { rows } = await client.query<{ line: string }>('select line from flightdeck_df');
    // Filesystem 1024-blocks Used Available Capacity Mounted-on
    const fields = rows.at(-1)?.line.trim().split(/\s+/) ?? [];
    const totalKb = Number(fields[1]);
    const availableKb = Number(fields[3]);
    if (!Number.isFinite(totalKb) || !Number.isFinite(availableKb) || totalKb <= 0) return { reason: `df printed nothing we could read (${rows.at(-1)?.line ?? 'no output'})` };
    return { availableBytes: availableKb * 1024, totalBytes: totalKb * 1024 };
  } catch (err) {
    return { reason: `df on the server failed: ${(err as Error).message}` };
  } finally {
    await client.query('rollback').catch(() => undefined);
  }
}

async function currentUser(client: pg.ClientBase): Promise<string> {
  return (await client.query<{ user: string }>('select current_user as user')).rows[0]!.user;
}

/**
 * Whether a scratch copy of sourceDatabase fits on this server leaving minFreePercent of its disk
 * free: a failed check carries the figures. Unmeasurable space passes, saying so.
 */
export async function checkRoomForScratchCopy(client: pg.ClientBase, sourceDatabase: string, minFreePercent: number): Promise<CheckResult> {
  const name = 'free space';
  const { rows: [row] } = await client.query<{ size: string }>('select pg_database_size($1) as size', [sourceDatabase]);
  const neededBytes = Number(row!.size);
  const disk = await serverDiskSpace(client);
  const needs = `the scratch copy needs about ${formatBytes(neededBytes)} (pg_database_size of ${sourceDatabase})`;
  if ('reason' in disk) return { name, isPassed: true, detail: `not measured: ${disk.reason}; ${needs}. Set verifySecret to verify on another cluster` };
  const leftBytes = disk.availableBytes - neededBytes;
  const minLeftBytes = disk.totalBytes * (minFreePercent / 100);
  const figures = `${needs}; the server's disk has ${formatBytes(disk.availableBytes)} free of ${formatBytes(disk.totalBytes)}`;
  if (leftBytes < minLeftBytes) {
    return {
      name, isPassed: false,
      detail: `not enough room on the source server: ${figures}, which would leave ${formatBytes(Math.max(0, leftBytes))}, below the ${minFreePercent}% (${formatBytes(minLeftBytes)}) `
        + 'verifyMinFreePercent keeps free. Nothing was restored; free space, lower verifyMinFreePercent, or set verifySecret to verify on another cluster',
    };
  }
  return { name, isPassed: true, detail: `${figures}; ${formatBytes(leftBytes)} stays free` };
}
