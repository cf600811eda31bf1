// The worker process: connects to Temporal, registers every workflow and activity, installs the
// backup schedules, and shuts down gracefully on SIGINT/SIGTERM.
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../activities/index.js';
import { createSlackClient } from '../activities/slack.js';
import { loadAppsConfig, loadEnvConfig } from '../lib/config.js';
import { createLogger } from '../lib/log.js';
import { runProcessMain } from '../lib/processMain.js';
import { temporalDataConverter } from '../lib/payloadCodec.js';
import { temporalConnectionOptions } from '../lib/temporalConnection.js';
import { syncBackupSchedules } from './schedules.js';
import { workflowsPath } from './workflowsPath.js';

async function main(): Promise<void> {
  const env = loadEnvConfig();
  const logger = createLogger({ level: env.LOG_LEVEL, name: 'flightdeck-worker' });
  const loadApps = () => loadAppsConfig(env.FLIGHTDECK_CONFIG);
  const apps = loadApps();
  logger.info({ apps: Object.keys(apps.apps), databases: Object.keys(apps.databases), temporal: env.TEMPORAL_ADDRESS, taskQueue: env.TEMPORAL_TASK_QUEUE }, 'starting worker');

  const connection = await NativeConnection.connect(temporalConnectionOptions(env));
  const clientConnection = await Connection.connect(temporalConnectionOptions(env));
  const dataConverter = temporalDataConverter(env);
  if (dataConverter) logger.info({ payloadKeys: env.payloadKeys.map((k) => k.id) }, 'payloads in Temporal are encrypted');
  const temporalClient = new Client({ connection: clientConnection, namespace: env.TEMPORAL_NAMESPACE, dataConverter });
  const schedules = await syncBackupSchedules(temporalClient, apps, env.TEMPORAL_TASK_QUEUE);
  logger.info({ schedules }, 'backup schedules in sync with the config');
  const worker = await Worker.create({
    connection,
    namespace: env.TEMPORAL_NAMESPACE,
    taskQueue: env.TEMPORAL_TASK_QUEUE,
    workflowsPath: workflowsPath(),
    dataConverter,
    activities: createActivities({ env, logger, slack: createSlackClient(env.SLACK_BOT_TOKEN, env.SLACK_API_URL), loadAppsConfig: loadApps, temporalClient }),
    // A deploy in flight gets time to finish its current step before the worker exits.
    shutdownGraceTime: '30s',
    maxConcurrentActivityTaskExecutions: 20,
  });
  logger.info('worker running; Ctrl-C to stop');
  await worker.run();
  await connection.close();
  await clientConnection.close();
  logger.info('worker stopped');
}

runProcessMain('flightdeck-worker', main);
