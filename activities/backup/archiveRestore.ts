// Feeds a stored archive to pg_restore through its stdin, checksumming it on the way: the same path
// for `--list`, a scratch verification and a real restore, from any storage backend.
import { pipeline } from 'node:stream/promises';
import type { Progress } from './progress.js';
import type { BackupStorage } from './storage.js';
import { createChecksumStream } from './checksumStream.js';
import { startStreamingCommand, type CommandOutcome } from '../../lib/streamingCommand.js';

export interface ArchiveRestoreOptions {
  pgRestore: string;
  args: string[];
  env: Record<string, string>;
  storage: BackupStorage;
  key: string;
  progress: Progress;
  timeoutMs: number;
}

export interface ArchiveRestoreOutcome {
  outcome: CommandOutcome;
  stdout: string;
  /** Of the bytes pg_restore read; the whole archive only when it read to the end. */
  sha256: string;
  sizeBytes: number;
  /** A storage read that failed part-way (pg_restore then saw a truncated archive). */
  readError?: Error;
}

const MAX_STDOUT_CHARS = 8 * 1024 * 1024;

export async function restoreArchive(options: ArchiveRestoreOptions): Promise<ArchiveRestoreOutcome> {
  const source = await options.storage.read(options.key);
  const checksum = createChecksumStream({ onBytes: options.progress.addBytes });
  const restore = startStreamingCommand(options.pgRestore, options.args, {
    env: options.env, timeoutMs: options.timeoutMs, signal: options.progress.signal, hasStdin: true,
  });
  let stdout = '';
  restore.stdout.on('data', (chunk: Buffer) => {
    if (stdout.length < MAX_STDOUT_CHARS) stdout += chunk.toString('utf8');
  });
  const feeding = pipeline(source, checksum.stream, restore.stdin!).then(() => undefined, (err: Error) => err);
  const outcome = await restore.finished.catch((err: Error) => {
    source.destroy();
    throw err;
  });
  // Once pg_restore has exited its stdin is closed, so the feed settles: complete, or cut short
  // (pg_restore --list stops reading after the table of contents, which is no error of ours).
  const feedError = await feeding;
  const readError = feedError && !isClosedPipe(feedError) ? feedError : undefined;
  return { outcome, stdout, ...checksum.result(), readError };
}

function isClosedPipe(err: Error): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EPIPE' || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ERR_STREAM_DESTROYED';
}
