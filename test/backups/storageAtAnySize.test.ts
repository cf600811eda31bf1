// Storage at any size (issue 23.2): S3 parts sized from the database, durable local writes, and the
// TLS settings of database connections. No server needed: local files and the connection settings.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { libpqEnvironment, parseConnectionString, pgClientConfig, withTlsSettings } from '../../activities/backup/connection.js';
import { createLocalStorage } from '../../activities/backup/localStorage.js';
import { s3PartSizeFor } from '../../activities/backup/s3Storage.js';
import { parseAppsConfig } from '../../lib/config.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

afterEach(() => {
  vi.restoreAllMocks();
});

describe('S3 part size', () => {
  it('stays at 16 MiB up to 125 GiB, then grows so that 8,000 parts hold the database', () => {
    expect(s3PartSizeFor(undefined)).toBe(16 * MiB);
    expect(s3PartSizeFor(100 * GiB)).toBe(16 * MiB);
    // 2 TiB: the old 16 MiB parts would have run out at 156 GiB.
    expect(s3PartSizeFor(2048 * GiB)).toBe(Math.ceil((2048 * GiB) / 8000));
    expect(s3PartSizeFor(2048 * GiB) * 10_000).toBeGreaterThan(2048 * GiB * 1.2);
  });

  it('never asks for a part larger than S3 allows (5 GiB)', () => {
    expect(s3PartSizeFor(100_000 * GiB)).toBe(5 * GiB);
  });
});

describe('local storage', () => {
  it('syncs every directory it creates and the directory it renames the finished file into', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'flightdeck-durable-'));
    const synced: string[] = [];
    const open = fs.promises.open.bind(fs.promises);
    vi.spyOn(fs.promises, 'open').mockImplementation(async (file, flags, mode) => {
      const handle = await open(file, flags, mode);
      if ((await handle.stat()).isDirectory()) {
        const sync = handle.sync.bind(handle);
        handle.sync = async () => {
          synced.push(path.relative(root, String(file)) || '.');
          return sync();
        };
      }
      return handle;
    });
    try {
      await createLocalStorage(path.join(root, 'backups')).write('shop/orders/b1.dump', Readable.from([Buffer.from('dump')]));
      // Each new directory's entry is in its parent; the file's entry is in its own directory (synced after the rename).
      expect(synced).toEqual(['backups/shop', 'backups', '.', 'backups/shop/orders']);
      expect(fs.readFileSync(path.join(root, 'backups/shop/orders/b1.dump'), 'utf8')).toBe('dump');
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('database TLS settings', () => {
  const url = 'postgres://app:pw@db.internal:5432/orders?sslmode=require';
  const databaseWith = (ssl: Record<string, unknown>) => parseAppsConfig({ databases: { orders: { secret: 'ORDERS_DATABASE_URL', ssl } } }).databases.orders!;

  it('verifies the server against the configured root certificates, for libpq and for Flightdeck\'s own client', () => {
    const rootCertFile = '/etc/ssl/certs/ca-certificates.crt';
    const endpoint = withTlsSettings(parseConnectionString(url, 'ORDERS_DATABASE_URL'), databaseWith({ mode: 'verify-full', rootCertFile }).ssl);
    expect(libpqEnvironment(endpoint, 'orders', undefined)).toMatchObject({ PGSSLMODE: 'verify-full', PGSSLROOTCERT: rootCertFile });
    const ssl = pgClientConfig(endpoint, 'orders').ssl as { rejectUnauthorized: boolean; ca: string; checkServerIdentity?: unknown };
    expect(ssl.rejectUnauthorized).toBe(true);
    expect(ssl.ca).toBe(fs.readFileSync(rootCertFile, 'utf8'));
    expect(ssl.checkServerIdentity).toBeUndefined();
  });

  it('checks the certificate but not the host name with verify-ca, and only encrypts with require', () => {
    const verifyCa = pgClientConfig(withTlsSettings(parseConnectionString(url, 'ORDERS_DATABASE_URL'), { mode: 'verify-ca' }), 'orders').ssl as { rejectUnauthorized: boolean; checkServerIdentity: () => unknown };
    expect(verifyCa.rejectUnauthorized).toBe(true);
    expect(verifyCa.checkServerIdentity()).toBeUndefined();
    expect(pgClientConfig(parseConnectionString(url, 'ORDERS_DATABASE_URL'), 'orders').ssl).toEqual({ rejectUnauthorized: false });
    expect(pgClientConfig(withTlsSettings(parseConnectionString(url, 'ORDERS_DATABASE_URL'), { mode: 'disable' }), 'orders').ssl).toBeUndefined();
  });

  it('fails clearly when the root certificates file is not on the worker', () => {
    const endpoint = withTlsSettings(parseConnectionString(url, 'ORDERS_DATABASE_URL'), { mode: 'verify-full', rootCertFile: '/nonexistent/root.pem' });
    expect(() => pgClientConfig(endpoint, 'orders')).toThrow('the root certificates file /nonexistent/root.pem (ssl.rootCertFile, or sslrootcert in the URL) cannot be read on the worker: ENOENT');
  });

  it('refuses an sslmode libpq does not have', () => {
    expect(() => databaseWith({ mode: 'verify' })).toThrow(/disable, require, verify-ca or verify-full/);
  });
});
