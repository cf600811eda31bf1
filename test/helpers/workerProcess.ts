// Flightdeck workers in their own processes, so a test can stop one the two ways a worker is lost:
// a graceful shutdown (SIGTERM: running activities are cancelled with WORKER_SHUTDOWN after the
// grace time) or a SIGKILL (nothing runs any more; the server finds out by heartbeat timeout). The
// workflow bundle and the worker's own code are the run's (built once, test/globalSetup.ts), which
// makes a replacement worker ready in a second or two.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, inject } from 'vitest';
import { isProcessRunning } from '../../sim/testing.js';

export type WorkerLoss = 'shutdown' | 'kill';

export interface WorkerProcess {
  readonly pid: number;
  /** Shuts the worker down gracefully (SIGTERM) or SIGKILLs it, and waits until the process is gone. */
  stop(how: WorkerLoss): Promise<void>;
  /** The end of what the worker printed (its log), for a failure to show. */
  outputTail(): string;
}

/** Beyond its grace time, how long a worker may take to exit before stop() fails with its log. */
const EXIT_AFTER_GRACE_MS = 60_000;

export interface WorkerProcesses {
  /**
   * Starts a worker on the task queue with the environment given (config file, flyctl, Slack, ...)
   * and resolves once it polls. shutdownGraceMs: how long running activities may go on after a
   * SIGTERM before they are cancelled (the production worker allows 30 s).
   */
  start(taskQueue: string, env: Record<string, string>, options?: { shutdownGraceMs?: number }): Promise<WorkerProcess>;
}

/** The Temporal server workers connect to; read when a worker starts (default: the run's dev server). */
export interface TemporalTarget {
  address: string;
  namespace: string;
}

/** Call at the top level of a test file. */
export function useWorkerProcesses(temporal: () => TemporalTarget = () => ({ address: inject('temporalAddress'), namespace: inject('temporalNamespace') })): WorkerProcesses {
  const children: ChildProcess[] = [];

  afterAll(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  });

  return {
    async start(taskQueue, env, options = {}) {
      const { address, namespace } = temporal();
      const child = spawn(process.execPath, [inject('workerProcessScript')], {
        env: {
          ...process.env, ...env,
          TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: namespace, TEMPORAL_TASK_QUEUE: taskQueue,
          WORKFLOW_BUNDLE_PATH: inject('workflowBundleForProcesses'), WORKER_SHUTDOWN_GRACE_MS: String(options.shutdownGraceMs ?? 30_000),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
      child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the worker process did not start polling within 120 s: ${output.slice(-2000)}`)), 120_000);
        const check = () => {
          if (output.includes('worker ready')) { clearTimeout(timer); resolve(); }
        };
        child.stdout!.on('data', check);
        void exited.then(() => { clearTimeout(timer); reject(new Error(`the worker process exited with ${child.exitCode}: ${output.slice(-2000)}`)); });
      });
      const graceMs = options.shutdownGraceMs ?? 30_000;
      const outputTail = () => output.slice(-3000);
      return {
        pid: child.pid!,
        outputTail,
        async stop(how) {
          child.kill(how === 'kill' ? 'SIGKILL' : 'SIGTERM');
          let timer: NodeJS.Timeout | undefined;
          const isExited = await Promise.race([
            exited.then(() => true),
            new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), graceMs + EXIT_AFTER_GRACE_MS); }),
          ]).finally(() => clearTimeout(timer));
          if (!isExited) throw new Error(`worker ${child.pid} did not exit within ${(graceMs + EXIT_AFTER_GRACE_MS) / 1000} s of ${how}; its last output: ${outputTail()}`);
          if (isProcessRunning(child.pid!)) throw new Error(`worker ${child.pid} still runs after ${how}`);
        },
      };
    },
  };
}
