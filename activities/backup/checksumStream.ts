// A pass-through stream that computes SHA-256 and size of what flows through it, so a dump is
// checksummed on its way to storage and a restore on its way out, without a second read.
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';

export interface ChecksumStream {
  stream: Transform;
  /** Of the bytes that passed so far (the whole input once the stream has ended); ends the hashing. */
  result(): { sha256: string; sizeBytes: number };
}

export interface ChecksumStreamOptions {
  onBytes?: (count: number) => void;
  /**
   * Runs when the input has ended, before the stream ends. Rejecting fails the stream instead, so
   * a storage write never completes for a dump whose producer failed at the end.
   */
  beforeEnd?: () => Promise<void>;
}

export function createChecksumStream(options: ChecksumStreamOptions = {}): ChecksumStream {
  const hash = createHash('sha256');
  let sizeBytes = 0;
  let sha256 = '';
  // The digest of everything that passed: at the end, or when asked after a consumer stopped reading
  // (pg_restore may exit having read every byte, before the stream's own end).
  const digest = () => {
    if (!sha256) sha256 = hash.digest('hex');
    return sha256;
  };
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      sizeBytes += chunk.length;
      options.onBytes?.(chunk.length);
      callback(null, chunk);
    },
    flush(callback) {
      digest();
      if (!options.beforeEnd) return callback();
      options.beforeEnd().then(() => callback(), (err: Error) => callback(err));
    },
  });
  return { stream, result: () => ({ sha256: digest(), sizeBytes }) };
}

/** Reads a stream to its end, returning its checksum and size. */
export async function checksumOf(source: AsyncIterable<Buffer>, onBytes?: (count: number) => void): Promise<{ sha256: string; sizeBytes: number }> {
  const hash = createHash('sha256');
  let sizeBytes = 0;
  for await (const chunk of source) {
    hash.update(chunk);
    sizeBytes += chunk.length;
    onBytes?.(chunk.length);
  }
  return { sha256: hash.digest('hex'), sizeBytes };
}
