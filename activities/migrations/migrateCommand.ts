// An app that migrates with its own tool (AppConfig.database.migrateCommand) gets it run like any
// other command: an argument list, no shell, a timeout, the database URL only in the child's
// environment as DATABASE_URL. Flightdeck still serializes runs and records them in its history.
// It comes from the repository, so it runs in the sandbox (lib/sandbox.ts) like tests do.
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { loadEnvConfig } from '../../lib/config.js';
import { lastLine, type RunResult } from '../../lib/process.js';
import { commandEnvironment, runRepositoryCommand, sandboxSettings, SandboxUnavailableError } from '../../lib/sandbox.js';
import { commandLockKey } from './advisoryLock.js';
import { MigrationError } from './errors.js';
import { withMigrationLock, type MigratorOptions, type RunRecord } from './migrator.js';
import { recordHistory } from './schemaState.js';

export interface MigrateCommandOptions extends Pick<MigratorOptions, 'connectionString' | 'lockTimeoutMs' | 'signal' | 'onProgress' | 'dumpWaitTimeoutMs'> {
  command: readonly string[];
  /** The app's checkout, where the command runs. */
  cwd?: string;
  timeoutMs: number;
}

export interface MigrateCommandOutcome {
  durationMs: number;
  /** The command's last output line, redacted. */
  lastOutputLine: string;
}

export async function runMigrateCommand(options: MigrateCommandOptions, record: RunRecord): Promise<MigrateCommandOutcome> {
  if (!options.command[0]) throw new MigrationError('invalid', 'The migration command is empty.');
  return withMigrationLock(options, commandLockKey, async (db) => {
    const startedAt = new Date();
    const result = await runSandboxed(options);
    const isSucceeded = result.exitCode === 0 && !result.isTimedOut && !result.isCancelled;
    const failure = isSucceeded ? undefined : describeCommandFailure(options.command, result);
    await recordHistory(db, {
      ...record, name: options.command.join(' '), direction: 'command', isSucceeded,
      durationMs: result.durationMs, startedAt, error: failure,
    });
    if (failure) throw new MigrationError('failed', failure);
    return { durationMs: result.durationMs, lastOutputLine: lastLine(result.stdout) };
  });
}

async function runSandboxed(options: MigrateCommandOptions): Promise<RunResult> {
  // Without a checkout the command still gets a workspace of its own, never the worker's directory.
  const workspace = options.cwd ?? fs.mkdtempSync(path.join(os.tmpdir(), 'flightdeck-migrate-'));
  try {
    return await runRepositoryCommand(sandboxSettings(loadEnvConfig()), {
      command: options.command, workspace, hasNetwork: true,
      env: commandEnvironment({ workspace, secrets: { DATABASE_URL: options.connectionString } }),
    }, {
      timeoutMs: options.timeoutMs,
      signal: options.signal,
      onLine: (line) => options.onProgress?.(line),
    });
  } catch (err) {
    if (err instanceof SandboxUnavailableError) throw new MigrationError('failed', `The migration command did not run: ${err.message}`);
    throw err;
  } finally {
    if (options.cwd === undefined) fs.rmSync(workspace, { recursive: true, force: true });
  }
}

function describeCommandFailure(command: readonly string[], result: RunResult): string {
  const how = result.isTimedOut ? `timed out after ${Math.round(result.durationMs / 1000)} s`
    : result.isCancelled ? 'was cancelled'
      : `exited with ${result.exitCode ?? `signal ${result.signal}`}`;
  const output = lastLine(result.stderr) || lastLine(result.stdout);
  return `The migration command "${command.join(' ')}" ${how}${output ? `: ${output}` : ''}. Flightdeck cannot tell how far it got: check the database before running it again.`;
}
