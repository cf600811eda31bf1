// Feeds a stored archive to pg_restore through its stdin, checksumming it on the way: the same path
// for `--list`, a scratch verification and a real restore, from any storage backend. A dump copied
// onto the worker first (localArchive.ts: a packed directory, or parallel jobs) is given to
// pg_restore by its path instead.
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { LocalArchive } from './localArchive.js';
import type { Progress } from './progress.js';
import type { BackupStorage } from './storage.js';
import { createChecksumStream } from './checksumStream.js';
import { isSuccessful, startStreamingCommand, type CommandOutcome } from '../../lib/streamingCommand.js';
import { ageDecryptArgs, ageEnv, ageFailure, type DumpDecryption } from './encryption.js';

export interface ArchiveRestoreOptions {
  pgRestore: string;
  args: string[];
  env: Record<string, string>;
  storage: BackupStorage;
  key: string;
  progress: Progress;
  timeoutMs: number;
  /** An encrypted dump: age decrypts it between the storage and pg_restore. */
  decryption?: DumpDecryption;
  /** The dump's local copy (already checksummed and decrypted): pg_restore reads it, not storage. */
  local?: LocalArchive;
}

export interface ArchiveRestoreOutcome {
  outcome: CommandOutcome;
  stdout: string;
  /** Of the bytes pg_restore read; the whole archive only when it read to the end. */
  sha256: string;
  sizeBytes: number;
  /** A storage read that failed part-way (pg_restore then saw a truncated archive). */
  readError?: Error;
  /** age could not decrypt the dump (wrong identity, damaged ciphertext): what pg_restore saw is not the archive. */
  decryptError?: string;
}

const MAX_STDOUT_CHARS = 8 * 1024 * 1024;

export async function restoreArchive(options: ArchiveRestoreOptions): Promise<ArchiveRestoreOutcome> {
  if (options.local) return restoreLocalArchive(options, options.local);
  const source = await options.storage.read(options.key);
  // The checksum is of what is stored: the ciphertext, for an encrypted dump.
  const checksum = createChecksumStream({ onBytes: options.progress.addBytes });
  const restore = startStreamingCommand(options.pgRestore, options.args, {
    env: options.env, timeoutMs: options.timeoutMs, signal: options.progress.signal, hasStdin: true,
  });
  const decrypt = options.decryption
    ? startStreamingCommand(options.decryption.agePath, ageDecryptArgs(options.decryption), { env: ageEnv(), timeoutMs: options.timeoutMs, signal: options.progress.signal, hasStdin: true })
    : undefined;
  const stdout = collectStdout(restore.stdout);
  const settled = (feed: Promise<void>) => feed.then(() => undefined, (err: Error) => err);
  const feeding = decrypt
    ? Promise.all([settled(pipeline(source, checksum.stream, decrypt.stdin!)), settled(pipeline(decrypt.stdout, restore.stdin!))]).then(([read]) => read)
    : settled(pipeline(source, checksum.stream, restore.stdin!));
  const outcome = await restore.finished.catch((err: Error) => {
    source.destroy();
    decrypt?.stop();
    throw err;
  });
  // Once pg_restore has exited its stdin is closed, so the feed settles: complete, or cut short
  // (pg_restore --list stops reading after the table of contents, which is no error of ours; age
  // then stops on its closed output).
  const feedError = await feeding;
  const readError = feedError && !isClosedPipe(feedError) ? feedError : undefined;
  const decrypted = await decrypt?.finished;
  const decryptError = decrypted && !isSuccessful(outcome) && !isSuccessful(decrypted) ? ageFailure(decrypted, options.decryption) : undefined;
  return { outcome, stdout: stdout.text(), ...checksum.result(), readError, ...(decryptError ? { decryptError } : {}) };
}

async function restoreLocalArchive(options: ArchiveRestoreOptions, archive: LocalArchive): Promise<ArchiveRestoreOutcome> {
  const restore = startStreamingCommand(options.pgRestore, [...options.args, archive.path], { env: options.env, timeoutMs: options.timeoutMs, signal: options.progress.signal });
  const stdout = collectStdout(restore.stdout);
  const outcome = await restore.finished;
  return { outcome, stdout: stdout.text(), sha256: archive.sha256, sizeBytes: archive.sizeBytes };
}

function collectStdout(stream: Readable): { text(): string } {
  let text = '';
  stream.on('data', (chunk: Buffer) => {
    if (text.length < MAX_STDOUT_CHARS) text += chunk.toString('utf8');
  });
  return { text: () => text };
}

/** A reader that stopped early (pg_restore --list, a failed unpacking) closed the pipe: not a read failure. */
export function isClosedPipe(err: Error): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EPIPE' || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ERR_STREAM_DESTROYED';
}
