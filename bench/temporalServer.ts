// The Temporal server a benchmark runs against: the dev server (SQLite in memory) by default, or with
// BENCH_TEMPORAL=postgres the production server on PostgreSQL (scripts/temporalServer.ts, built by
// `npm run setup`), whose database does not slow down as runs pile up the way the dev server's does.
import { startLocalPostgres } from '../scripts/localPostgres.js';
import { startTemporalDevServer } from '../scripts/localTemporal.js';
import { startTemporalServer } from '../scripts/temporalServer.js';

export interface BenchTemporal {
  address: string;
  namespace: string;
  /** What it is, for the report. */
  description: string;
  stop(): Promise<void>;
}

export async function startBenchTemporal(): Promise<BenchTemporal> {
  const kind = process.env.BENCH_TEMPORAL ?? 'dev';
  if (kind === 'dev') {
    const server = await startTemporalDevServer();
    return { address: server.address, namespace: server.namespace, description: `Temporal dev server ${server.address}`, stop: () => server.stop() };
  }
  if (kind !== 'postgres') throw new Error(`BENCH_TEMPORAL is "${kind}": use dev (the default) or postgres`);
  const postgres = await startLocalPostgres();
  const server = await startTemporalServer({ postgresUrl: postgres.url, database: 'temporal_bench' });
  return {
    address: server.address, namespace: server.namespace, description: `Temporal server on PostgreSQL ${server.address}`,
    async stop() {
      await server.destroy();
      await postgres.stop();
    },
  };
}
