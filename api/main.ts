// The API process: loads the config, connects to Temporal, serves HTTP until SIGINT/SIGTERM.
import { Client, Connection } from '@temporalio/client';
import { appsConfigLoader, loadEnvConfig } from '../lib/config.js';
import { createLogger } from '../lib/log.js';
import { runProcessMain } from '../lib/processMain.js';
import { temporalDataConverter } from '../lib/payloadCodec.js';
import { assertSearchAttributes } from '../lib/searchAttributeCheck.js';
import { temporalConnectionOptions } from '../lib/temporalConnection.js';
import { createApiMetrics } from './metrics.js';
import { buildServer } from './server.js';

async function main(): Promise<void> {
  const env = loadEnvConfig();
  const logger = createLogger({ level: env.LOG_LEVEL, name: 'flightdeck-api' });
  const loadApps = appsConfigLoader(env.FLIGHTDECK_CONFIG);
  loadApps(); // an invalid config stops the start, listing every problem

  const connection = await Connection.connect(temporalConnectionOptions(env));
  // The API starts runs tagged with Flightdeck's search attributes and lists runs by them.
  await assertSearchAttributes(connection, env.TEMPORAL_NAMESPACE, (message) => logger.warn(message));
  const client = new Client({ connection, namespace: env.TEMPORAL_NAMESPACE, dataConverter: temporalDataConverter(env) });
  const app = await buildServer({ client, taskQueue: env.TEMPORAL_TASK_QUEUE, env, loadApps, logger, metrics: createApiMetrics(), now: Date.now });
  const url = await app.listen({ host: env.FLIGHTDECK_API_HOST, port: env.FLIGHTDECK_API_PORT });
  logger.info({ url, temporal: env.TEMPORAL_ADDRESS, taskQueue: env.TEMPORAL_TASK_QUEUE }, `API listening on ${url}`);

  let isStopping = false;
  const stop = async (signal: string) => {
    if (isStopping) return;
    isStopping = true;
    logger.info({ signal }, 'API stopping');
    await app.close(); // finishes requests in flight, refuses new ones
    await connection.close();
    logger.info('API stopped');
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

runProcessMain('flightdeck-api', main);
