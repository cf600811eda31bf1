// Shared Temporal test kit: connects to the run's dev server, uses the run's workflow bundle (or
// bundles a test's own workflows once per file), and runs a real worker per test on its own task queue
// (worker processes, test/helpers/workerProcess.ts, run the production worker as it is).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, inject } from 'vitest';
import { TestWorkflowEnvironment, workflowInterceptorModules } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type WorkerOptions, type WorkflowBundleOption } from '@temporalio/worker';
import { FLIGHTDECK_WORKFLOWS } from './workflowBundles.js';
import type { Client } from '@temporalio/client';

let isRuntimeInstalled = false;

/** Quiet native logs; safe to call more than once in a process. */
export function installQuietRuntime(): void {
  if (isRuntimeInstalled) return;
  // Runtime.install may run once per process; vitest forks give each test file its own process.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  isRuntimeInstalled = true;
}

export interface WorkflowTestKit {
  readonly env: TestWorkflowEnvironment;
  readonly client: Client;
  /** A fresh id with a readable prefix, unique across the run. */
  uniqueId(prefix: string): string;
  /** Runs a worker on a new task queue while fn runs, then shuts it down. */
  withWorker<T>(activities: object, fn: (taskQueue: string) => Promise<T>, options?: Partial<WorkerOptions>): Promise<T>;
  /** Creates (but does not run) a worker on the given task queue. */
  createWorker(taskQueue: string, activities: object, options?: Partial<WorkerOptions>): Promise<Worker>;
}

/** Call at the top level of a test file. */
export function useWorkflowTestKit(workflowsPath: string): WorkflowTestKit {
  let env: TestWorkflowEnvironment | undefined;
  let bundle: WorkflowBundleOption | undefined;

  beforeAll(async () => {
    installQuietRuntime();
    env = await TestWorkflowEnvironment.createFromExistingServer({
      address: inject('temporalAddress'),
      namespace: inject('temporalNamespace'),
    });
    bundle = workflowsPath === FLIGHTDECK_WORKFLOWS
      ? { codePath: inject('workflowBundleForKit') }
      : await bundleWorkflowCode({ workflowsPath, workflowInterceptorModules, logger: new DefaultLogger('WARN') });
  });
  afterAll(async () => {
    await env?.teardown();
  });

  const kit: WorkflowTestKit = {
    get env() {
      if (!env) throw new Error('the workflow test kit is used before beforeAll ran');
      return env;
    },
    get client() {
      return kit.env.client;
    },
    uniqueId: (prefix) => `${prefix}-${randomUUID().slice(0, 8)}`,
    createWorker: async (taskQueue, activities, options) => Worker.create({
      connection: kit.env.nativeConnection,
      namespace: inject('temporalNamespace'),
      taskQueue,
      workflowBundle: bundle!,
      activities,
      // Workflow code in this process's own reusable V8 context rather than a new worker thread: a
      // thread loads the SDK's modules and the bundle again, about a second of CPU per worker, and
      // the suite creates hundreds. Same workflow sandbox and determinism checks; only the 5 s
      // deadlock detector is off (a workflow stuck in a loop fails its test by the test's timeout).
      debugMode: true,
      ...options,
    }),
    withWorker: async (activities, fn, options) => {
      const taskQueue = kit.uniqueId('tq');
      const worker = await kit.createWorker(taskQueue, activities, options);
      return worker.runUntil(fn(taskQueue));
    },
  };
  return kit;
}
