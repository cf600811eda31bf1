// pg_dump and pg_restore: where they are, the flags we always use, and what their failures mean.
import { PermanentError, permanentFailure, transientFailure, TransientError, type PermanentErrorType } from '../../lib/errors.js';
import { lastLine } from '../../lib/process.js';
import type { CommandOutcome } from '../../lib/streamingCommand.js';
import type { DumpDecryption } from './encryption.js';

export interface PgTools {
  pgDump: string;
  /** From pg_dump's own bin directory: the same client version. */
  pgDumpall: string;
  pgRestore: string;
  /** An encrypted backup's decryption (age and the identities), set by the activity that restores it. */
  decryption?: DumpDecryption;
  /** The database's parallelJobs and where parallel work is spooled on the worker, set by the activity. */
  parallel?: ParallelJobs;
}

export interface ParallelJobs {
  /** pg_dump/pg_restore --jobs; 1: the streaming custom-format path. */
  jobs: number;
  /** FLIGHTDECK_BACKUP_SPOOL_DIR, resolved. */
  spoolDir: string;
}

export function jobsOf(tools: PgTools): number {
  return tools.parallel?.jobs ?? 1;
}

/** directory: pg_dump --format=directory --jobs into that (new) directory; else the custom format on stdout. */
export function pgDumpArgs(options: { compressionLevel: number; snapshot: string; lockWaitTimeoutMs: number; directory?: { path: string; jobs: number } }): string[] {
  const { directory } = options;
  return [
    ...(directory ? ['--format=directory', `--jobs=${directory.jobs}`, `--file=${directory.path}`] : ['--format=custom']),
    `--compress=${options.compressionLevel}`,
    // The snapshot our inventory is taken in: row counts and dump agree exactly.
    `--snapshot=${options.snapshot}`,
    // Never wait for a password prompt: the passfile has it, or the connection fails.
    '--no-password',
    // Behind a migration's ACCESS EXCLUSIVE lock, fail (and retry later) instead of queueing forever.
    `--lock-wait-timeout=${options.lockWaitTimeoutMs}`,
  ];
}

/** jobs > 1 needs an archive file or directory (pg_restore cannot restore from stdin in parallel). */
export function pgRestoreArgs(options: { database: string; isScratch: boolean; role?: string; jobs?: number }): string[] {
  const args = ['--dbname', options.database, '--exit-on-error', '--no-password'];
  if (options.jobs && options.jobs > 1) args.push(`--jobs=${options.jobs}`);
  if (options.role) args.push(`--role=${options.role}`);
  // A scratch copy proves the data restores; its objects need not belong to the original roles.
  if (options.isScratch) args.push('--no-owner', '--no-acl');
  return args;
}

/** PostgreSQL's ERROR line (and the command it refused) rather than whatever line came last. */
export function pgErrorOf(stderr: string): string {
  const lines = stderr.split('\n').map((line) => line.trim()).filter(Boolean);
  const errorAt = lines.findLastIndex((line) => line.includes('ERROR:'));
  if (errorAt < 0) return lastLine(stderr);
  const command = lines[errorAt + 1]?.startsWith('Command was:') ? ` (${lines[errorAt + 1]})` : '';
  return `${lines[errorAt]!.replace(/^.*ERROR:\s*/, '')}${command}`;
}

const UNREACHABLE_PATTERN = /password authentication failed|no pg_hba\.conf entry|role ".*" does not exist|database ".*" does not exist/i;
/** Failures that another attempt cannot fix: a pg_dump older than the server, missing privileges. */
const HOPELESS_PATTERN = /server version mismatch|unsupported version|permission denied|must be owner/i;
const TRANSIENT_PATTERN = /could not connect|connection refused|timeout expired|server closed the connection|connection to server .* failed|could not translate host name/i;

/**
 * Why pg_dump/pg_restore failed, as a failure the workflow can act on (stderr is already redacted).
 * hopelessType names the permanent failure for this tool.
 */
export function pgToolFailure(tool: string, outcome: CommandOutcome, hopelessType: PermanentErrorType): Error {
  const reason = pgErrorOf(outcome.stderrTail) || (outcome.signal ? `killed by ${outcome.signal}` : `exit code ${outcome.exitCode}`);
  const message = `${tool} failed: ${reason}`;
  if (outcome.isTimedOut) return transientFailure(TransientError.NetworkError, `${tool} did not finish in time`);
  if (UNREACHABLE_PATTERN.test(outcome.stderrTail)) return permanentFailure(PermanentError.DatabaseUnreachable, message);
  if (HOPELESS_PATTERN.test(outcome.stderrTail)) return permanentFailure(hopelessType, message);
  if (TRANSIENT_PATTERN.test(outcome.stderrTail)) return transientFailure(TransientError.NetworkError, message);
  // Anything else may be passing (a killed connection, a full disk): let the retry policy decide.
  return new Error(message);
}
