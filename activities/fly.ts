// Every flyctl call. flyctl is reached only as the executable named by FLYCTL_PATH; the token
// travels in the child's environment, never as an argument. Errors are classified as flyctl's
// own retry logic classifies them (reference/flyctl.md §8).
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { childProcessEnv, type EnvConfig } from '../lib/config.js';
import { PermanentError, permanentFailure, transientFailure, TransientError, type PermanentErrorType } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { lastLine, runCommand, type RunResult } from '../lib/process.js';
import { redactText } from '../lib/redact.js';
import { startStreamingCommand, type CommandOutcome } from '../lib/streamingCommand.js';
import { flyAppName, imageRef } from '../lib/validate.js';
import { withHeartbeat } from './heartbeat.js';

export interface FlyDeps {
  env: EnvConfig;
  logger: Logger;
  /** Deploy logs go below this directory (flyctl writes to files so it outlives a lost worker). */
  workDir: string;
}

// ---------------------------------------------------------------- JSON shapes (flyctl --json)

const machineSchema = z.object({
  id: z.string(),
  state: z.string(),
  region: z.string().optional(),
  config: z.object({ image: z.string().optional(), metadata: z.record(z.string(), z.string()).optional() }).passthrough().optional(),
  image_ref: z.object({ registry: z.string().optional(), repository: z.string().optional(), tag: z.string().optional() }).passthrough().optional(),
}).passthrough();

const statusSchema = z.object({
  Name: z.string(),
  Hostname: z.string().optional(),
  AppURL: z.string().optional(),
  Version: z.number().optional(),
  Deployed: z.boolean().optional(),
  Machines: z.array(machineSchema).nullable().optional(),
}).passthrough();

const releaseSchema = z.object({
  ID: z.string(),
  Version: z.number(),
  Status: z.string(),
  ImageRef: z.string(),
  CreatedAt: z.string(),
}).passthrough();

const secretSchema = z.object({ name: z.string() }).passthrough();
const checksSchema = z.record(z.string(), z.array(z.object({ name: z.string(), status: z.string(), output: z.string().optional() }).passthrough()).nullable());
const releaseLineSchema = z.object({ id: z.string(), version: z.number(), image_ref: z.string() });

export interface FlyMachine { id: string; state: string; image: string; region?: string }
export interface FlyAppStatus {
  flyApp: string;
  /** Where the app answers HTTP: flyctl's AppURL, else https://<Hostname>. */
  appUrl: string;
  releaseVersion?: number;
  machines: FlyMachine[];
  /** The image most started machines run: what serves right now. */
  servingImage?: string;
}
export interface FlyRelease { id: string; version: number; status: string; imageRef: string; createdAt: string }
export interface DeployOutcome { releaseVersion?: number; releaseId?: string; imageRef: string }
export interface MachineChecks { isAllPassing: boolean; total: number; failing: string[] }

// ---------------------------------------------------------------- error classification

const TRANSIENT_PATTERNS = [/\b(408|429|5\d\d)\b/, /too many requests/i, /connection reset by peer/i, /connection refused/i,
  /network is unreachable/i, /temporary failure in name resolution/i, /no such host/i, /\beof\b/i, /i\/o timeout/i,
  /lease currently held by/i, /failed to acquire leases/i, /could not reserve resource/i, /insufficient_capacity/i];

const PERMANENT_PATTERNS: Array<[RegExp, PermanentErrorType]> = [
  [/no access token available/i, PermanentError.FlyAuthMissing],
  [/\b401\b|unauthorized|not authorized/i, PermanentError.FlyAuthRejected],
  [/could not find app|app not found|could not be found, did you create the app/i, PermanentError.FlyAppNotFound],
  [/release command failed|release_command failed/i, PermanentError.ReleaseCommandFailed],
  [/appears to be crashing/i, PermanentError.DeployCrashLoop],
  [/timeout reached waiting for (health checks|machine)/i, PermanentError.DeployHealthTimeout],
  [/configuration is not valid|config for your app is missing/i, PermanentError.FlyConfigInvalid],
];

/** The `Error: …` line flyctl prints, or the last stderr line. */
function flyErrorText(result: RunResult): string {
  const errorLines = result.stderr.split('\n').filter((l) => /^Error[: ]/.test(l.trim()));
  return (errorLines.at(-1) ?? lastLine(result.stderr) ?? lastLine(result.stdout)) || `exit code ${result.exitCode}`;
}

export function classifyFlyFailure(command: string, result: RunResult): Error {
  const text = flyErrorText(result);
  const all = `${result.stderr}\n${text}`;
  const message = `flyctl ${command} failed: ${text.replace(/^Error:?\s*/, '')}`;
  if (result.isTimedOut) return transientFailure('FlyTransient', `flyctl ${command} did not finish in time`);
  // flyctl exits 126 when the error chain holds context.DeadlineExceeded. A health timeout is
  // flattened first and exits 1; in a deploy, 126 is the release_command outliving its timeout,
  // which aborts before any machine is touched.
  if (result.exitCode === 126) {
    if (/release.command/i.test(all)) return permanentFailure(PermanentError.ReleaseCommandFailed, `${message} (the release_command did not finish within its release_command_timeout)`);
    return transientFailure('FlyTransient', `${message} (deadline exceeded)`);
  }
  for (const [pattern, type] of PERMANENT_PATTERNS) if (pattern.test(all)) return permanentFailure(type, message);
  if (TRANSIENT_PATTERNS.some((p) => p.test(text))) return transientFailure('FlyTransient', message);
  return permanentFailure(PermanentError.FlyCommandFailed, message);
}

// ---------------------------------------------------------------- activities

export function createFlyActivities({ env, logger, workDir }: FlyDeps) {
  const flyEnv = () => childProcessEnv({ FLY_API_TOKEN: env.flyToken, FLY_NO_UPDATE_CHECK: '1', NO_COLOR: '1', CI: '1' });

  function requireToken(): void {
    if (!env.flyToken) throw permanentFailure(PermanentError.FlyAuthMissing, 'No Fly token: set FLY_API_TOKEN (or FLY_ACCESS_TOKEN) in the worker environment');
  }

  // flyctl reads a fly.toml from its working directory (checks, release_command, even the app),
  // so it never runs where the worker happens to start, which may hold an unrelated fly.toml.
  function neutralDir(): string {
    fs.mkdirSync(workDir, { recursive: true });
    return workDir;
  }

  async function flyctl(command: string, args: string[], timeoutMs = 60_000): Promise<RunResult> {
    requireToken();
    const result = await withHeartbeat(`flyctl ${command}`, (progress) =>
      runCommand(env.FLYCTL_PATH, args, { cwd: neutralDir(), env: flyEnv(), timeoutMs, signal: progress.signal, onLine: progress.report }));
    if (result.isCancelled) throw new Error(`flyctl ${command} was cancelled`);
    if (result.exitCode !== 0) throw classifyFlyFailure(command, result);
    return result;
  }

  async function flyctlJson<T>(command: string, args: string[], schema: z.ZodType<T>): Promise<T> {
    const result = await flyctl(command, args);
    let parsed: unknown;
    try {
      parsed = JSON.parse(result.stdout);
    } catch {
      throw permanentFailure(PermanentError.FlyCommandFailed, `flyctl ${command} printed something that is not JSON: ${result.stdout.slice(0, 200)}`);
    }
    const checked = schema.safeParse(parsed);
    if (!checked.success) throw permanentFailure(PermanentError.FlyCommandFailed, `flyctl ${command} JSON has an unexpected shape: ${checked.error.issues[0]?.message}`);
    return checked.data;
  }

  const app = (flyApp: string) => ['-a', flyAppName.parse(flyApp)];

  async function listReleases(flyApp: string): Promise<FlyRelease[]> {
    const releases = await flyctlJson('releases', ['releases', ...app(flyApp), '--json'], z.array(releaseSchema).nullable());
    return (releases ?? []).map((r) => ({ id: r.ID, version: r.Version, status: r.Status, imageRef: r.ImageRef, createdAt: r.CreatedAt }));
  }

  return {
    async flyAppStatus(flyApp: string): Promise<FlyAppStatus> {
      const status = await flyctlJson('status', ['status', ...app(flyApp), '--json'], statusSchema);
      const machines = (status.Machines ?? []).map((m) => ({
        id: m.id, state: m.state, region: m.region,
        image: m.config?.image ?? [m.image_ref?.registry, m.image_ref?.repository].filter(Boolean).join('/') + (m.image_ref?.tag ? `:${m.image_ref.tag}` : ''),
      }));
      return {
        flyApp,
        appUrl: status.AppURL || `https://${status.Hostname ?? `${flyApp}.fly.dev`}`,
        releaseVersion: status.Version,
        machines,
        servingImage: mostCommon(machines.filter((m) => m.state === 'started').map((m) => m.image)),
      };
    },

    async flySecretNames(flyApp: string): Promise<string[]> {
      const secrets = await flyctlJson('secrets list', ['secrets', 'list', ...app(flyApp), '--json'], z.array(secretSchema).nullable());
      return (secrets ?? []).map((s) => s.name);
    },

    flyReleases: listReleases,

    async flyMachineChecks(flyApp: string): Promise<MachineChecks> {
      const checks = await flyctlJson('checks list', ['checks', 'list', ...app(flyApp), '--json'], checksSchema);
      const all = Object.entries(checks).flatMap(([machine, list]) => (list ?? []).map((c) => ({ machine, ...c })));
      const failing = all.filter((c) => c.status !== 'passing').map((c) => `${c.machine} ${c.name}: ${c.status}${c.output ? ` (${redactText(c.output).slice(0, 80)})` : ''}`);
      return { isAllPassing: failing.length === 0, total: all.length, failing };
    },

    /** `fly deploy --build-only --push`: builds the checkout into an image and returns its ref. */
    async flyBuildImage(input: { flyApp: string; workspace: string; imageLabel: string; timeoutMs: number }): Promise<string> {
      const result = await flyctl('deploy --build-only', ['deploy', input.workspace, ...app(input.flyApp), '--build-only', '--push',
        '--image-label', input.imageLabel, '--yes'], input.timeoutMs).catch((err) => {
        throw permanentFailure(PermanentError.BuildFailed, `Build failed: ${(err as Error).message}`);
      });
      const image = /image:\s*(\S+)/.exec(result.stdout)?.[1] ?? `registry.fly.io/${input.flyApp}:${input.imageLabel}`;
      return imageRef.parse(image);
    },

    /**
     * `fly deploy --image`. flyctl runs detached with its output in a file, so a worker that dies
     * mid-deploy does not kill the rollout with it; the retry then finds that release (newer than
     * the baseline, same image) and waits for it instead of deploying the image a second time.
     */
    async flyDeployImage(input: {
      flyApp: string; image: string; strategy: string; waitTimeout: string; baselineReleaseVersion?: number | null; workDir: string; timeoutMs: number;
      /** The checkout's fly.toml, so its release_command and checks apply, as with a local `fly deploy`. */
      configPath?: string;
      /** A stored fly.toml (the one a release was verified with), written next to the deploy's logs. */
      configContent?: string;
    }): Promise<DeployOutcome> {
      requireToken();
      const { attempt } = Context.current().info;
      if (attempt > 1) {
        const inFlight = await findDeployOf(input.flyApp, input.image, input.baselineReleaseVersion);
        if (inFlight) {
          logger.info({ flyApp: input.flyApp, image: input.image, release: inFlight.version, attempt }, 'a deploy of this image is already under way; waiting for it instead of deploying again');
          return waitForRelease(input.flyApp, inFlight, input.timeoutMs);
        }
      }
      const args = ['deploy', ...app(input.flyApp), '--image', imageRef.parse(input.image), '--strategy', input.strategy,
        '--wait-timeout', input.waitTimeout, '--yes'];
      const configPath = input.configContent !== undefined ? writeDeployConfig(input.workDir, input.configContent) : input.configPath;
      if (configPath && fs.existsSync(configPath)) args.push('--config', configPath);
      try {
        return await runDetachedDeploy(input, args);
      } catch (err) {
        throw await unlessNothingRolledOut(input.flyApp, input.baselineReleaseVersion, err);
      }
    },
  };

  function deployLogDir(runWorkDir: string): string {
    return path.resolve(workDir, runWorkDir.replace(/[^A-Za-z0-9._/-]/g, '_').replace(/\.\./g, '_'));
  }

  function writeDeployConfig(runWorkDir: string, content: string): string {
    const dir = deployLogDir(runWorkDir);
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'fly.toml');
    fs.writeFileSync(file, content);
    return file;
  }

  /**
   * A failed deploy that created no release above the baseline touched no machine (flyctl creates
   * the release before it updates any): nothing was rolled out, whatever the error text says.
   */
  async function unlessNothingRolledOut(flyApp: string, baseline: number | null | undefined, err: unknown): Promise<unknown> {
    if (baseline === undefined || !(err instanceof ApplicationFailure) || !err.nonRetryable) return err;
    if (err.type === PermanentError.ReleaseCommandFailed) return err;
    const releases = await listReleases(flyApp).catch(() => undefined);
    if (!releases || releases.some((r) => r.version > (baseline ?? 0))) return err;
    return permanentFailure(PermanentError.DeployNothingRolledOut, `${err.message} (no release was created: nothing was rolled out)`);
  }

  async function findDeployOf(flyApp: string, image: string, baseline: number | null | undefined): Promise<FlyRelease | undefined> {
    const releases = await listReleases(flyApp);
    return releases.find((r) => r.imageRef === image && (baseline === undefined || baseline === null || r.version > baseline));
  }

  async function waitForRelease(flyApp: string, release: FlyRelease, timeoutMs: number): Promise<DeployOutcome> {
    const deadline = Date.now() + timeoutMs;
    let current = release;
    return withHeartbeat('waiting for release', async (progress) => {
      while (current.status === 'running') {
        if (Date.now() > deadline) throw transientFailure('FlyTransient', `release v${current.version} still running after ${timeoutMs} ms`);
        if (progress.signal.aborted) throw new Error('cancelled while waiting for release');
        await new Promise((r) => setTimeout(r, 1000));
        current = (await listReleases(flyApp)).find((r) => r.version === release.version) ?? current;
        progress.report(`release v${current.version}: ${current.status}`);
      }
      if (current.status !== 'complete') {
        throw permanentFailure(PermanentError.DeployHealthTimeout, `release v${current.version} of ${release.imageRef} ended ${current.status}`);
      }
      return { releaseVersion: current.version, releaseId: current.id, imageRef: current.imageRef };
    });
  }

  async function runDetachedDeploy(input: { flyApp: string; image: string; workDir: string; timeoutMs: number }, args: string[]): Promise<DeployOutcome> {
    const logDir = deployLogDir(input.workDir);
    fs.mkdirSync(logDir, { recursive: true });
    const logFile = path.join(logDir, `deploy-${Date.now()}.log`);
    const errFile = `${logFile}.err`;
    const out = fs.openSync(logFile, 'a');
    const err = fs.openSync(errFile, 'a');
    // Plain file descriptors, not pipes: flyctl keeps writing if this worker process dies.
    const startedAt = Date.now();
    const child = spawn(env.FLYCTL_PATH, args, { cwd: logDir, env: { ...flyEnv(), FLY_EMIT_RELEASE_JSON: '1' }, detached: true, stdio: ['ignore', out, err] });
    fs.closeSync(out);
    fs.closeSync(err);
    const killGroup = (signal: NodeJS.Signals) => { try { if (child.pid) process.kill(-child.pid, signal); } catch { /* gone */ } };
    let isCancelled = false;
    let isTimedOut = false;
    const exit = await withHeartbeat('flyctl deploy', async (progress) => {
      const stop = () => { killGroup('SIGTERM'); setTimeout(() => killGroup('SIGKILL'), 5000).unref(); };
      const onAbort = () => { isCancelled = true; stop(); };
      progress.signal.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(() => { isTimedOut = true; stop(); }, input.timeoutMs);
      const tail = setInterval(() => progress.report(lastLine(readTail(logFile))), 1000);
      try {
        return await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
          child.once('error', reject);
          child.once('exit', (code, signal) => resolve({ code, signal }));
        });
      } finally {
        clearTimeout(timer);
        clearInterval(tail);
        progress.signal.removeEventListener('abort', onAbort);
      }
    });
    const result: RunResult = {
      exitCode: exit.code ?? undefined, signal: exit.signal ?? undefined, stdout: redactText(readTail(logFile)), stderr: redactText(readTail(errFile)),
      isTimedOut, isCancelled, durationMs: Date.now() - startedAt,
    };
    if (isCancelled) throw new Error('flyctl deploy was cancelled');
    if (result.exitCode !== 0) throw classifyFlyFailure('deploy', result);
    const releaseLine = result.stdout.split('\n').map((l) => l.trim()).find((l) => l.startsWith('{') && l.includes('"image_ref"'));
    const release = releaseLine ? releaseLineSchema.safeParse(JSON.parse(releaseLine)) : undefined;
    if (release?.success) return { releaseVersion: release.data.version, releaseId: release.data.id, imageRef: release.data.image_ref };
    return { imageRef: input.image };
  }
}

export type FlyActivities = ReturnType<typeof createFlyActivities>;

function readTail(file: string, bytes = 64 * 1024): string {
  try {
    const size = fs.statSync(file).size;
    const fd = fs.openSync(file, 'r');
    try {
      const buffer = Buffer.alloc(Math.min(size, bytes));
      fs.readSync(fd, buffer, 0, buffer.length, Math.max(0, size - bytes));
      return buffer.toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}

function mostCommon(values: string[]): string | undefined {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
}

// ---------------------------------------------------------------- fly proxy (databases on the private network)
// `fly proxy` for databases reachable only on Fly's private network: started for one activity,
// on a port the kernel picks, and stopped when the activity is done (reference/flyctl.md §6).
export interface FlyProxyOptions {
  flyctlPath: string;
  flyApp: string;
  remotePort: number;
  env: Record<string, string>;
  signal?: AbortSignal;
  readyTimeoutMs?: number;
}

export interface FlyProxy {
  localPort: number;
  stop(): Promise<void>;
}

const READY_LINE = /Proxying (?:localhost|127\.0\.0\.1|\[::1\]):(\d+) to remote/;
/** The proxy runs as long as its activity: the activity's own timeout bounds it. */
const PROXY_LIFETIME_MS = 24 * 3_600_000;

export async function startFlyProxy(options: FlyProxyOptions): Promise<FlyProxy> {
  // --watch-stdin: should the worker die without stopping it, the proxy exits when its stdin closes.
  const args = ['proxy', `0:${options.remotePort}`, '-a', flyAppName.parse(options.flyApp), '--watch-stdin'];
  // flyctl versions differ in which stream carries the ready line: both feed one line source.
  const output = new EventEmitter();
  const proxy = startStreamingCommand(options.flyctlPath, args, {
    env: options.env, timeoutMs: PROXY_LIFETIME_MS, signal: options.signal, hasStdin: true, killGraceMs: 2000,
    onStderrLine: (line) => output.emit('text', `${line}\n`),
  });
  // Always drained: a proxy blocked on a full stdout pipe would stall its connections.
  proxy.stdout.on('data', (chunk: Buffer) => output.emit('text', chunk.toString('utf8')));
  const stop = async () => {
    proxy.stdin?.end();
    proxy.stop();
    await proxy.finished.catch(() => undefined);
  };
  try {
    const localPort = await waitForReadyLine(output, proxy.finished, options.readyTimeoutMs ?? 30_000, options.flyApp);
    return { localPort, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function waitForReadyLine(output: EventEmitter, finished: Promise<CommandOutcome>, timeoutMs: number, flyApp: string): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  let onText: ((text: string) => void) | undefined;
  try {
    return await new Promise<number>((resolve, reject) => {
      let seen = '';
      onText = (text) => {
        seen = (seen + text).slice(-4096);
        const match = READY_LINE.exec(seen);
        if (match) resolve(Number(match[1]));
      };
      output.on('text', onText);
      timer = setTimeout(() => reject(transientFailure(TransientError.NetworkError, `fly proxy to ${flyApp} was not ready within ${timeoutMs} ms`)), timeoutMs);
      finished.then(
        (outcome) => reject(transientFailure(TransientError.NetworkError,
          `fly proxy to ${flyApp} exited (code ${outcome.exitCode}) before it was ready: ${outcome.stderrTail.trim().split('\n').at(-1) ?? ''}`)),
        reject,
      );
    });
  } finally {
    clearTimeout(timer);
    if (onText) output.off('text', onText);
  }
}
