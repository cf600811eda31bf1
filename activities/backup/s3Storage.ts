// Backups in an S3-compatible bucket (AWS S3, R2, Tigris, MinIO). Dumps go up as a streaming multipart
// upload, so memory is bounded by partSize × queueSize whatever the dump's size.
// Credentials come from the AWS SDK's default chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profiles,
// instance roles): the SDK reads them itself and they never pass through Flightdeck.
import type { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, NoSuchKey, paginateListObjectsV2, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { StorageConfig } from './storage.js';
import { StorageObjectMissing, type BackupStorage, type StoredObject } from './storage.js';

type S3StorageConfig = Extract<StorageConfig, { type: 's3' }>;

/** 16 MiB parts allow 156 GiB per object (S3's limit is 10,000 parts) and keep ≤ 32 MiB in flight. */
const MIN_PART_SIZE_BYTES = 16 * 1024 * 1024;
/** S3's largest part. */
const MAX_PART_SIZE_BYTES = 5 * 1024 * 1024 * 1024;
/** Parts an expected size is spread over: 2,000 of S3's 10,000 stay spare for a dump larger than expected. */
const PLANNED_PARTS = 8000;
const PARTS_IN_FLIGHT = 2;

/**
 * The part size for an object of about expectedSizeBytes (a dump: the database's pg_database_size,
 * an over-estimate of a compressed dump): max(16 MiB, size / 8000), so a large database's dump never
 * runs out of parts at the very end. Memory in flight is two parts.
 */
export function s3PartSizeFor(expectedSizeBytes = 0): number {
  return Math.min(MAX_PART_SIZE_BYTES, Math.max(MIN_PART_SIZE_BYTES, Math.ceil(expectedSizeBytes / PLANNED_PARTS)));
}

export function createS3Storage(config: S3StorageConfig, options: { partSizeBytes?: number } = {}): BackupStorage {
  const client = new S3Client({
    region: config.region,
    endpoint: config.endpoint,
    // S3-compatible servers on a custom endpoint rarely have per-bucket DNS names.
    forcePathStyle: Boolean(config.endpoint),
    // The SDK's default CRC trailers (aws-chunked uploads) are not understood by every S3-compatible
    // server; our own SHA-256 covers integrity end to end.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const prefix = config.prefix && !config.prefix.endsWith('/') ? `${config.prefix}/` : config.prefix;
  const objectKey = (key: string) => `${prefix}${key}`;
  const locationOf = (key: string) => `s3://${config.bucket}/${objectKey(key)}`;

  // An unfinished multipart upload is no object: none is listed as partial (a bucket lifecycle rule aborts stale uploads).
  async function listObjects(keyPrefix: string): Promise<StoredObject[]> {
    const objects: StoredObject[] = [];
    for await (const page of paginateListObjectsV2({ client }, { Bucket: config.bucket, Prefix: objectKey(keyPrefix) })) {
      for (const object of page.Contents ?? []) {
        if (object.Key) objects.push({ key: object.Key.slice(prefix.length), modifiedAt: object.LastModified ?? new Date(), isPartial: false });
      }
    }
    return objects.sort((a, b) => a.key.localeCompare(b.key));
  }

  return {
    locationOf,

    async write(key, source, signal, writeOptions) {
      const abortController = new AbortController();
      const onAbort = () => abortController.abort();
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        const upload = new Upload({
          client,
          params: { Bucket: config.bucket, Key: objectKey(key), Body: source },
          partSize: options.partSizeBytes ?? s3PartSizeFor(writeOptions?.expectedSizeBytes),
          queueSize: PARTS_IN_FLIGHT,
          // An aborted or failed upload removes its parts: nothing half-written stays billable.
          leavePartsOnError: false,
          abortController,
        });
        await upload.done();
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
    },

    async read(key) {
      try {
        const response = await client.send(new GetObjectCommand({ Bucket: config.bucket, Key: objectKey(key) }));
        return response.Body as Readable;
      } catch (err) {
        if (err instanceof NoSuchKey || (err as { name?: string }).name === 'NoSuchKey') throw new StorageObjectMissing(locationOf(key));
        throw err;
      }
    },

    async list(keyPrefix) {
      return (await listObjects(keyPrefix)).map((object) => object.key);
    },

    listObjects,

    async delete(key) {
      await client.send(new DeleteObjectCommand({ Bucket: config.bucket, Key: objectKey(key) }));
    },
  };
}
