// Client-side encryption of dumps with age (https://age-encryption.org, the `age` CLI: streaming,
// constant memory). The dump is encrypted while it streams, before it is checksummed and stored, so
// the storage holds only ciphertext; verification and restores decrypt it on the way to pg_restore
// with the identities read from a named secret. The identity never becomes an argument, an
// environment variable or a result: it lives in a 0600 file for the length of one activity.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { childProcessEnv, readSecret, type AppsConfig, type DatabaseConfig } from '../../lib/config.js';
import { PermanentError, permanentFailure } from '../../lib/errors.js';
import { lastLine } from '../../lib/process.js';
import type { CommandOutcome } from '../../lib/streamingCommand.js';
import type { BackupManifest } from './catalog.js';

export type EncryptionConfig = NonNullable<DatabaseConfig['encryption']>;

/** How a dump is encrypted: age for these recipients (public keys). */
export interface DumpEncryption {
  agePath: string;
  recipients: string[];
}

/** How an encrypted dump is decrypted: age with the identities in this file. */
export interface DumpDecryption {
  agePath: string;
  identityFile: string;
  /** Named in errors: the secret the identities came from. */
  identitySecret: string;
  recipients: string[];
}

/** The database's own encryption, else the storage's; undefined: dumps are stored as pg_dump wrote them. */
export function encryptionOf(config: AppsConfig, dbConfig: DatabaseConfig): EncryptionConfig | undefined {
  return dbConfig.encryption ?? config.storage.encryption;
}

/** A missing age fails the run at once, saying what to install, rather than as a spawn error retried three times. */
export function assertAgeAvailable(agePath: string): void {
  const candidates = agePath.includes('/') ? [agePath] : (process.env.PATH ?? '').split(':').filter(Boolean).map((dir) => path.join(dir, agePath));
  const isFound = candidates.some((file) => {
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  if (!isFound) throw permanentFailure(PermanentError.ConfigInvalid, `age (AGE_PATH=${agePath}) is not installed on the worker, and backups of this database are encrypted: apt-get install age, or set AGE_PATH`);
}

export function ageEncryptArgs(recipients: string[]): string[] {
  return ['--encrypt', ...recipients.flatMap((recipient) => ['--recipient', recipient])];
}

export function ageDecryptArgs(decryption: DumpDecryption): string[] {
  return ['--decrypt', '--identity', decryption.identityFile];
}

/** age's environment: nothing configured as a secret. */
export function ageEnv(): Record<string, string> {
  return childProcessEnv();
}

/** Why age failed, in words that name the secret and the recipients, never a key. */
export function ageFailure(outcome: CommandOutcome, decryption?: DumpDecryption): string {
  const reason = lastLine(outcome.stderrTail).replace(/^age: (error: )?/, '') || (outcome.signal ? `killed by ${outcome.signal}` : `exit code ${outcome.exitCode}`);
  if (!decryption) return `age (encrypting) failed: ${reason}`;
  return /no identity matched/i.test(outcome.stderrTail)
    ? `decrypting the stored dump failed: no identity in secret ${decryption.identitySecret} matches its recipients (${decryption.recipients.join(', ')}); add the matching identity to the secret (keep old ones after a key rotation)`
    : `decrypting the stored dump failed (age: ${reason})`;
}

/**
 * Runs fn with the decryption an encrypted backup needs (undefined for a clear one): its identities,
 * read from the secret that the database's (or storage's) encryption names, in a 0600 file removed afterwards.
 */
export async function withDecryption<T>(options: { config: AppsConfig; dbConfig: DatabaseConfig; database: string; manifest: BackupManifest; agePath: string },
  fn: (decryption: DumpDecryption | undefined) => Promise<T>): Promise<T> {
  const { manifest, database } = options;
  if (!manifest.encryption) return fn(undefined);
  const recipients = manifest.encryption.recipients;
  const settings = encryptionOf(options.config, options.dbConfig);
  if (!settings) {
    throw permanentFailure(PermanentError.ConfigInvalid, `backup ${manifest.backupId} is encrypted with age for ${recipients.join(', ')}; `
      + `set encryption.identitySecret of database ${database} (or of storage) to the NAME of the variable holding its identity`);
  }
  const identities = readSecret(settings.identitySecret)?.split(/[\s,]+/).filter(Boolean);
  if (!identities?.length) {
    throw permanentFailure(PermanentError.ConfigInvalid, `secret ${settings.identitySecret} (the age identities of database ${database}'s backups) is not set in the worker environment; `
      + `backup ${manifest.backupId} is encrypted for ${recipients.join(', ')} and cannot be read without it`);
  }
  assertAgeAvailable(options.agePath);
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'flightdeck-age-'));
  try {
    const identityFile = path.join(dir, 'identities');
    await fs.promises.writeFile(identityFile, `${identities.join('\n')}\n`, { mode: 0o600 });
    return await fn({ agePath: options.agePath, identityFile, identitySecret: settings.identitySecret, recipients });
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
}
