// The worker process: connects to Temporal, registers every workflow and activity, installs the
// backup schedules and the freshness watches of the backups, and shuts down gracefully on SIGINT/SIGTERM.
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { DataConverter } from '@temporalio/common';
import { createActivities, createRunnerActivities } from '../activities/index.js';
import { createSlackClient } from '../activities/slack.js';
import { appsConfigLoader, loadEnvConfig, type AppsConfig, type EnvConfig } from '../lib/config.js';
import { createLogger, type Logger } from '../lib/log.js';
import { startCommandLauncher } from '../lib/launcher/client.js';
import { runProcessMain } from '../lib/processMain.js';
import { temporalDataConverter } from '../lib/payloadCodec.js';
import { assertSearchAttributes } from '../lib/searchAttributeCheck.js';
import { temporalConnectionOptions } from '../lib/temporalConnection.js';
import { startFreshnessWatches } from './freshnessWatches.js';
import { syncBackupSchedules } from './schedules.js';
import { taskQueuesOf, withTaskQueues } from './taskQueues.js';
import { startHealthWatches } from '../lib/appOperations.js';
import { workerTuning } from './tuning.js';
import { workflowCode } from './workflowBundle.js';

async function main(): Promise<void> {
  // While this process is small: its commands (flyctl, git, tests) start from there (lib/launcher/).
  startCommandLauncher();
  const loadedEnv = loadEnvConfig();
  const queues = taskQueuesOf(loadedEnv);
  const env = withTaskQueues(loadedEnv, queues);
  const logger = createLogger({ level: env.LOG_LEVEL, name: 'flightdeck-worker' });
  const loadApps = appsConfigLoader(env.FLIGHTDECK_CONFIG);
  const apps = loadApps();
  logger.info({ apps: Object.keys(apps.apps), databases: Object.keys(apps.databases), temporal: env.TEMPORAL_ADDRESS, taskQueue: env.TEMPORAL_TASK_QUEUE }, 'starting worker');

  const connection = await NativeConnection.connect(temporalConnectionOptions(env));
  const dataConverter = temporalDataConverter(env);
  const runnerQueue = env.FLIGHTDECK_RUNNER_TASK_QUEUE;
  // --runner: only the runner queue (checkouts, tests, smoke commands), with no secret beyond Temporal's.
  if (process.argv.includes('--runner')) {
    if (!runnerQueue) throw new Error('--runner needs FLIGHTDECK_RUNNER_TASK_QUEUE, the queue the worker sends checkouts and tests to');
    const runner = await createRunnerWorker(connection, env, logger, loadApps, dataConverter);
    logger.info({ taskQueue: runnerQueue }, 'runner running; Ctrl-C to stop');
    await runner.run();
    await connection.close();
    return;
  }
  const clientConnection = await Connection.connect(temporalConnectionOptions(env));
  if (dataConverter) logger.info({ payloadKeys: env.payloadKeys.map((k) => k.id) }, 'payloads in Temporal are encrypted');
  const temporalClient = new Client({ connection: clientConnection, namespace: env.TEMPORAL_NAMESPACE, dataConverter });
  // Runs are started and tagged with Flightdeck's search attributes: refuse to run in a namespace without them.
  await assertSearchAttributes(clientConnection, env.TEMPORAL_NAMESPACE, (message) => logger.warn(message));
  const schedules = await syncBackupSchedules(temporalClient, apps, env.TEMPORAL_TASK_QUEUE);
  logger.info({ schedules }, 'backup schedules in sync with the config');
  const watches = await startFreshnessWatches(temporalClient, apps, env.TEMPORAL_TASK_QUEUE);
  logger.info({ watches }, 'backup freshness watches running');
  const activities = createActivities({ env, logger, slack: createSlackClient(env.SLACK_BOT_TOKEN, env.SLACK_API_URL), loadAppsConfig: loadApps, temporalClient });
  const healthWatches = await startHealthWatches(temporalClient, apps, env.TEMPORAL_TASK_QUEUE);
  if (healthWatches.length) logger.info({ healthWatches }, 'health watches started');
  const worker = await Worker.create({
    connection,
    namespace: env.TEMPORAL_NAMESPACE,
    taskQueue: env.TEMPORAL_TASK_QUEUE,
    ...workflowCode((message) => logger.info(message)),
    dataConverter,
    activities,
    // A deploy in flight gets time to finish its current step before the worker exits.
    shutdownGraceTime: '30s',
    ...workerTuning(env),
  });
  // Rollouts and database work on queues of their own, each with its own slots (worker/taskQueues.ts).
  const kindWorkers = await Promise.all([
    Worker.create({ connection, namespace: env.TEMPORAL_NAMESPACE, taskQueue: queues.deploys, dataConverter, activities, shutdownGraceTime: '30s', maxConcurrentActivityTaskExecutions: env.FLIGHTDECK_DEPLOY_MAX_ACTIVITIES }),
    Worker.create({ connection, namespace: env.TEMPORAL_NAMESPACE, taskQueue: queues.database, dataConverter, activities, shutdownGraceTime: '30s', maxConcurrentActivityTaskExecutions: env.FLIGHTDECK_DATABASE_MAX_ACTIVITIES }),
  ]);
  // The default worker serves the runner queue too (one process); --no-runner leaves it to a separate runner.
  const runner = runnerQueue && !process.argv.includes('--no-runner') ? await createRunnerWorker(connection, env, logger, loadApps, dataConverter) : undefined;
  logger.info({ taskQueues: { ...queues, runner: runnerQueue ?? '(this queue)' } }, 'worker running; Ctrl-C to stop');
  await Promise.all([worker.run(), ...kindWorkers.map((w) => w.run()), runner?.run()]);
  await connection.close();
  await clientConnection.close();
  logger.info('worker stopped');
}

async function createRunnerWorker(connection: NativeConnection, env: EnvConfig, logger: Logger, loadApps: () => AppsConfig, dataConverter: DataConverter | undefined): Promise<Worker> {
  return Worker.create({
    connection,
    namespace: env.TEMPORAL_NAMESPACE,
    taskQueue: env.FLIGHTDECK_RUNNER_TASK_QUEUE!,
    dataConverter,
    activities: createRunnerActivities({ env, logger, loadAppsConfig: loadApps }),
    shutdownGraceTime: '30s',
    maxConcurrentActivityTaskExecutions: 10,
  });
}

runProcessMain('flightdeck-worker', main);
