// The production Temporal server (scripts/temporalServer.ts) for a test file: its own two databases on the
// run's one PostgreSQL, a namespace, and a client. Only the files that need a real cluster use it (several
// workers, a server restart); everything else runs on the run's dev server.
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, inject } from 'vitest';
import { startTemporalServer, type TemporalServer } from '../../scripts/temporalServer.js';
import type { TemporalTarget } from './workerProcess.js';

export interface ProductionTemporal {
  readonly server: TemporalServer;
  readonly client: Client;
  /** For useWorkerProcesses: workers connect to this server. */
  target(): TemporalTarget;
}

/** Call at the top level of a test file. */
export function useProductionTemporal(): ProductionTemporal {
  let server: TemporalServer | undefined;
  let connection: Connection | undefined;
  let client: Client | undefined;

  beforeAll(async () => {
    server = await startTemporalServer({
      postgresUrl: inject('postgresUrl'),
      // The run's PostgreSQL may be shared (TEST_DATABASE_URL): databases of their own, dropped afterwards.
      database: `temporal_test_${randomBytes(4).toString('hex')}`,
    });
    connection = await Connection.connect({ address: server.address });
    client = new Client({ connection, namespace: server.namespace });
  }, 240_000);
  afterAll(async () => {
    await connection?.close();
    await server?.destroy();
  });

  const production: ProductionTemporal = {
    get server() {
      if (!server) throw new Error('the production Temporal server is used before beforeAll ran');
      return server;
    },
    get client() {
      if (!client) throw new Error('the production Temporal server is used before beforeAll ran');
      return client;
    },
    target: () => ({ address: production.server.address, namespace: production.server.namespace }),
  };
  return production;
}
