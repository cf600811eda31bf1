// Starts a Temporal dev server (the `temporal` CLI) for tests and sandbox mode.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Connection } from '@temporalio/client';
import { freePort, waitForPort } from '../lib/net.js';
import { devServerSearchAttributeArgs } from '../lib/runSearchAttributes.js';

const temporalCliScript = fileURLToPath(new URL('./temporal-cli.sh', import.meta.url));

export interface TemporalDevServer {
  address: string;
  namespace: string;
  uiUrl?: string;
  pid: number | undefined;
  stop(): Promise<void>;
}

export interface TemporalDevServerOptions {
  /** SQLite file; in-memory when absent. */
  dbFilename?: string;
  port?: number;
  withUi?: boolean;
  /** With withUi: the UI's port (default: a free one). */
  uiPort?: number;
  namespace?: string;
  /**
   * Its own process group, so a Ctrl-C in the terminal reaches only the supervisor, which stops the
   * server after the worker that still needs it (sandbox mode).
   */
  isOwnProcessGroup?: boolean;
  startupTimeoutMs?: number;
  /** Server dynamic config, e.g. { 'limit.historyCount.suggestContinueAsNew': 20 } (recording fixtures). */
  dynamicConfig?: Record<string, string | number | boolean>;
}

/** Finds the CLI without building it; throws the script's own explanation when it is missing. */
export function locateTemporalCli(): string {
  try {
    return execFileSync('bash', [temporalCliScript, '--no-build'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(`Cannot start the Temporal dev server: ${stderr || 'the Temporal CLI is missing; run npm run setup'}`);
  }
}

export async function startTemporalDevServer(options: TemporalDevServerOptions = {}): Promise<TemporalDevServer> {
  const cli = locateTemporalCli();
  const namespace = options.namespace ?? 'default';
  const port = options.port ?? (await freePort());
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--namespace', namespace, '--log-level', 'error'];
  // Left to the CLI, these two would be kernel-chosen ports, which an outgoing connection can take before its bind.
  args.push('--http-port', String(await freePort()), '--metrics-port', String(await freePort()));
  // Flightdeck's search attributes (lib/runSearchAttributes.ts): a dev server knows only what it is started with.
  args.push(...devServerSearchAttributeArgs());
  let uiUrl: string | undefined;
  if (options.withUi) {
    const uiPort = options.uiPort ?? (await freePort());
    args.push('--ui-port', String(uiPort));
    uiUrl = `http://127.0.0.1:${uiPort}`;
  } else {
    args.push('--headless');
  }
  if (options.dbFilename) {
    // WAL + no fsync: the settings Temporal's own SDK CI uses for a fast, durable-enough dev server.
    args.push('--db-filename', options.dbFilename, '--sqlite-pragma', 'journal_mode=WAL', '--sqlite-pragma', 'synchronous=OFF');
  }
  for (const [key, value] of Object.entries(options.dynamicConfig ?? {})) args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  const child = spawn(cli, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: options.isOwnProcessGroup ?? false });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-4000); });
  const address = `127.0.0.1:${port}`;
  try {
    await waitUntilServing(child, address, namespace, options.startupTimeoutMs ?? 90_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`The Temporal dev server (${cli}) did not start: ${(err as Error).message}${stderr ? `\n${stderr}` : ''}`);
  }
  return { address, namespace, uiUrl, pid: child.pid, stop: () => stopProcess(child) };
}

/** Resolves once the frontend answers for the namespace; rejects if the process exits first. */
export async function waitUntilServing(child: ChildProcess, address: string, namespace: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const [host, port] = address.split(':');
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`it exited with code ${code}`))));
  await Promise.race([waitForPort(host!, Number(port), timeoutMs), exited]);
  for (;;) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2000 });
      try {
        await connection.workflowService.describeNamespace({ namespace });
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`namespace ${namespace} not ready after ${timeoutMs} ms: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** SIGTERM, then SIGKILL if the process has not exited after graceMs. */
export async function stopProcess(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
