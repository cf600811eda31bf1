// Where backups live. Every backend streams: nothing holds a whole dump in memory, whatever its size.
import { Readable } from 'node:stream';
import type { AppsConfig } from '../../lib/config.js';
import { createLocalStorage } from './localStorage.js';
import { createS3Storage } from './s3Storage.js';

export interface BackupStorage {
  /** Where a key lives, for people: a path or an s3:// URL (never credentials). */
  locationOf(key: string): string;
  /**
   * Streams source into key. The object appears only once complete; an abort leaves nothing behind.
   * expectedSizeBytes (an estimate, e.g. the database's size for a dump) sizes S3's multipart upload.
   */
  write(key: string, source: Readable, signal?: AbortSignal, options?: { expectedSizeBytes?: number }): Promise<void>;
  /** Rejects with StorageObjectMissing when there is no such object. */
  read(key: string): Promise<Readable>;
  /** Every key that starts with prefix, at any depth. */
  list(prefix: string): Promise<string[]>;
  /** Deleting a missing key succeeds: deletions are retried. */
  delete(key: string): Promise<void>;
  /**
   * Every object under prefix with when it was last written, unfinished writes included (a local
   * `.partial-*` file, isPartial): what the orphan sweep (orphans.ts) looks at.
   */
  listObjects(prefix: string): Promise<StoredObject[]>;
}

export interface StoredObject {
  key: string;
  modifiedAt: Date;
  /** An unfinished write: never read, listed only here. */
  isPartial: boolean;
}

export class StorageObjectMissing extends Error {
  constructor(readonly location: string) {
    super(`no stored object at ${location}`);
    this.name = 'StorageObjectMissing';
  }
}

export type StorageConfig = AppsConfig['storage'];

export function createBackupStorage(config: StorageConfig): BackupStorage {
  return config.type === 'local' ? createLocalStorage(config.dir) : createS3Storage(config);
}

/** Keys are built from validated names; this guards the filesystem backend against anything else. */
export function assertSafeKey(key: string): void {
  const isSafe = key.length > 0 && !key.startsWith('/') && !key.split('/').some((part) => part === '' || part === '.' || part === '..');
  if (!isSafe) throw new Error(`invalid storage key "${key}"`);
}

export async function readText(storage: BackupStorage, key: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of await storage.read(key)) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

export async function writeText(storage: BackupStorage, key: string, text: string): Promise<void> {
  await storage.write(key, Readable.from([Buffer.from(text, 'utf8')]));
}
