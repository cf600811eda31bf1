// Every flyctl call. flyctl is reached only as the executable named by FLYCTL_PATH; the token
// travels in the child's environment, never as an argument. Errors are classified from flyctl's
// final `Error:` report, as flyctl's own retry logic classifies them (reference/flyctl.md §8 and
// its Corrections), and a failed deploy is judged by Fly's state, not by words.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import { z } from 'zod';
import { childProcessEnv, type EnvConfig } from '../lib/config.js';
import { goDurationToMs } from '../lib/duration.js';
import { PermanentError, permanentFailure, transientFailure, TransientError, type PermanentErrorType } from '../lib/errors.js';
import { readFlyTomlSettings, type FlyTomlSettings } from '../lib/flyToml.js';
import type { Logger } from '../lib/log.js';
import { parseLogEntries, scanLogEntries, type LogScan, type LogScanInput } from '../lib/logScan.js';
import type { CommandExit } from '../lib/launcher/launch.js';
import { lastLine, runCommand, startDetachedCommand, type RunResult } from '../lib/process.js';
import { redactText } from '../lib/redact.js';
import { startStreamingCommand, type CommandOutcome } from '../lib/streamingCommand.js';
import { flyAppName, flyDuration, imageRef } from '../lib/validate.js';
import { checkHealthAtOnce, type CheckWatch, type HealthVerdict } from './healthVerdict.js';
import { withHeartbeat } from './heartbeat.js';
import { pause, type HealthProbeInput } from './http.js';

export interface FlyDeps {
  env: EnvConfig;
  logger: Logger;
  /** Deploy logs go below this directory (flyctl writes to files so it outlives a lost worker). */
  workDir: string;
}

// ---------------------------------------------------------------- flyctl's environment

/**
 * FLY_* variables passed on to flyctl: the token we set, and the endpoints an operator may point
 * elsewhere. Every other FLY_* / FLYCTL_* variable of the worker changes what flyctl does (FLY_APP,
 * FLY_JSON, FLY_ACCESS_TOKEN beating our token, FLYCTL_STATUSLOGGER_NO_ERROR, FLY_IMAGE_REF…) and is
 * dropped. FLY_SIM_DIR is read only by the simulator (tests, sandbox).
 */
const FLY_VARIABLES_KEPT = new Set(['FLY_API_TOKEN', 'FLY_API_BASE_URL', 'FLY_FLAPS_BASE_URL', 'FLY_REGISTRY_HOST', 'FLY_SIM_DIR']);
/** Read by flyctl although not FLY_*: DEPLOY_TRIGGER deploys an image it cannot resolve; DEV, FLY_DEV switch endpoints. */
const OTHER_VARIABLES_DROPPED = new Set(['DEPLOY_TRIGGER', 'DEV', 'FLY_DEV', 'BUILDKIT_PROGRESS']);

/**
 * The environment flyctl and `fly proxy` run with: the worker's (minus secrets and the variables
 * above), LOG_LEVEL pinned to info (flyctl writes its log lines to stdout, which breaks --json and
 * the release line: Corrections 3), no colour, no prompts, no update check. Proxy settings
 * (HTTPS_PROXY, NO_PROXY) and HOME pass through: they are how the worker reaches Fly.
 */
export function flyctlEnvironment(base: Record<string, string>, own: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(base)) {
    if ((key.startsWith('FLY_') || key.startsWith('FLYCTL_')) && !FLY_VARIABLES_KEPT.has(key)) continue;
    if (OTHER_VARIABLES_DROPPED.has(key)) continue;
    env[key] = value;
  }
  for (const [key, value] of Object.entries(own)) if (value !== undefined) env[key] = value;
  return { ...env, LOG_LEVEL: 'info', NO_COLOR: '1', CI: '1', FLY_NO_UPDATE_CHECK: '1' };
}

// ---------------------------------------------------------------- JSON shapes (flyctl --json)

const machineSchema = z.object({
  id: z.string(),
  state: z.string(),
  region: z.string().optional(),
  config: z.object({ image: z.string().optional(), metadata: z.record(z.string(), z.string()).nullable().optional() }).passthrough().optional(),
  checks: z.array(z.object({ name: z.string().optional(), status: z.string().optional() }).passthrough()).nullable().optional(),
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
// `name` and `status` are omitempty on the platform's check status (fly-go): a warming check has neither.
const checksSchema = z.record(z.string(), z.array(z.object({ name: z.string().optional(), status: z.string().optional(), output: z.string().optional() }).passthrough()).nullable());
const releaseLineSchema = z.object({ id: z.string(), version: z.number(), image_ref: z.string() });
const scaleGroupSchema = z.object({ Process: z.string(), Count: z.number(), Regions: z.record(z.string(), z.number()).nullable().optional() }).passthrough();

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
/** deadlineMs: how long to read the checks again while some fail (default 30 s); machineIds: only these machines. */
export interface MachineCheckOptions { deadlineMs?: number; intervalMs?: number; machineIds?: string[] }
/** A machine as the incident runbook assesses it: its state and how many of its checks pass. */
export interface FlyMachineHealth { id: string; state: string; region: string; image: string; checksPassing: number; checksTotal: number }

/** What a machine runs, for telling whether a failed deploy changed anything. */
export interface MachineSnapshot { id: string; image: string; releaseVersion: string }

export interface DeployInput {
  flyApp: string;
  image: string;
  strategy: string;
  waitTimeout: string;
  /** The app's release version before this deploy; null when it had none. A retry's release is the one above it. */
  baselineReleaseVersion: number | null;
  /** Below the worker's work dir: where flyctl's output files go. */
  workDir: string;
  /** Absolute path of the fly.toml to deploy with; flyctl runs in its directory, so relative paths in it resolve. */
  configPath?: string;
  /**
   * A stored fly.toml (the one a release was verified with), written next to the deploy's logs and
   * deployed with; its relative paths resolve there, so a stored config should not rely on them.
   */
  configContent?: string;
  /** Ignored: the activity derives its budget from the strategy, machines and timeouts (kept for older callers). */
  timeoutMs?: number;
}

/** Heartbeat details of flyDeployImage: what a retry needs to resume instead of deploying again. */
interface DeployCheckpoint {
  phase: string;
  lastLine: string;
  releaseVersion?: number;
  pid?: number;
  host?: string;
  logFile?: string;
  deadlineAt: number;
  before: MachineSnapshot[];
}

// ---------------------------------------------------------------- error classification

const TRANSIENT_PATTERNS = [/\b(408|429|5\d\d)\b/, /too many requests/i, /connection reset by peer/i, /connection refused/i,
  /network is unreachable/i, /temporary failure in name resolution/i, /no such host/i, /\beof\b/i, /i\/o timeout/i,
  /lease currently held by/i, /failed to acquire leases/i, /could not reserve resource/i, /insufficient_capacity/i];

/** In this order: a failed release_command wins over anything auth-looking (Corrections 2). */
const PERMANENT_PATTERNS: Array<[RegExp, PermanentErrorType]> = [
  [/release command failed|release_command failed/i, PermanentError.ReleaseCommandFailed],
  [/appears to be crashing/i, PermanentError.DeployCrashLoop],
  [/timeout reached waiting for (health checks|machine)/i, PermanentError.DeployHealthTimeout],
  [/configuration is not valid|config for your app is missing/i, PermanentError.FlyConfigInvalid],
  [/no access token available/i, PermanentError.FlyAuthMissing],
  [/could not find app|app not found|could not be found, did you create the app/i, PermanentError.FlyAppNotFound],
  [/\b401\b|unauthorized|not authorized|must be authenticated/i, PermanentError.FlyAuthRejected],
];

/** flyctl's own final errors, which app log lines printed before or after them must not displace. */
const FINAL_ERROR_PRIORITY = [/^Error: release command failed/, /^Error: smoke checks for \S+ failed/, /^Error: timeout reached waiting for/];

/**
 * flyctl's final error report: its `Error: …` line and the description lines after it (up to a
 * blank line). App log lines (a release_command's output, a crash's logs) may also start with
 * `Error:`; flyctl's own deploy errors are preferred over them, else the last `Error:` line counts.
 */
export function finalErrorReport(stderr: string): string | undefined {
  const lines = stderr.split('\n');
  const starts = lines.flatMap((line, index) => (/^Error: /.test(line) ? [index] : []));
  if (starts.length === 0) return undefined;
  const start = FINAL_ERROR_PRIORITY.map((pattern) => starts.find((i) => pattern.test(lines[i]!))).find((i) => i !== undefined) ?? starts.at(-1)!;
  const report = [lines[start]!];
  for (const line of lines.slice(start + 1)) {
    if (!line.trim()) break;
    report.push(line);
  }
  return report.join('\n').replace(/^Error:\s*/, '').trim();
}

/** `App configuration is not valid`: the details are on stdout, between `Validating …` and `✘…`. */
function configurationDetails(stdout: string): string {
  const lines = stdout.split('\n').map((l) => l.trim());
  const from = lines.findLastIndex((l) => l.startsWith('Validating '));
  if (from < 0) return '';
  return lines.slice(from + 1).filter((l) => l && !/^✓/.test(l)).join('; ');
}

/** The `✖ [i/n] Machine … update failed: …` lines of a rollout (stdout). */
function failedUpdateLines(stdout: string): string[] {
  return stdout.split('\n').map((l) => l.trim()).filter((l) => /^✖/.test(l) && /update failed|failed:/i.test(l));
}

export function classifyFlyFailure(command: string, result: RunResult): Error {
  if (result.isTimedOut) return transientFailure('FlyTransient', `flyctl ${command} did not finish in time`);
  const report = finalErrorReport(result.stderr);
  if (!report && result.exitCode === 127) {
    // A rolling update whose sibling pool was cancelled: no Error line, the reasons are on stdout (Corrections 5).
    const reasons = failedUpdateLines(result.stdout);
    return permanentFailure(PermanentError.DeployRolloutFailed,
      `flyctl ${command} was interrupted (exit 127)${reasons.length ? `: ${reasons.map((l) => l.replace(/^✖\s*/, '')).join('; ')}` : ' and printed no error'}`);
  }
  const text = report ?? (lastLine(result.stderr) || lastLine(result.stdout) || `exit code ${result.exitCode}`);
  // The error line and the first line after it (flyctl's description, or the second of joined errors).
  let message = `flyctl ${command} failed: ${text.split('\n').slice(0, 2).join(': ').slice(0, 600)}`;
  const type = PERMANENT_PATTERNS.find(([pattern]) => pattern.test(text))?.[1];
  if (type === PermanentError.FlyConfigInvalid) {
    const details = configurationDetails(result.stdout);
    if (details) message += `: ${details}`;
  }
  if (type === PermanentError.ReleaseCommandFailed && /timeout reached|deadline exceeded/i.test(text)) {
    message += ' (the release_command did not finish within its release_command_timeout)';
  }
  if (type) return permanentFailure(type, message);
  // flyctl exits 126 when its error chain holds context.DeadlineExceeded: a read that timed out is
  // worth another try; a deploy that did is not (a machine check or a bluegreen health wait expired),
  // and Fly's state decides what it means (see judgeFailedDeploy).
  if (result.exitCode === 126 && command === 'deploy') return permanentFailure(PermanentError.DeployRolloutFailed, `${message} (deadline exceeded)`);
  if (result.exitCode === 126 || TRANSIENT_PATTERNS.some((p) => p.test(text))) return transientFailure('FlyTransient', message);
  return permanentFailure(PermanentError.FlyCommandFailed, message);
}

// ---------------------------------------------------------------- a deploy's budget

const DEFAULT_WAIT_TIMEOUT_MS = 5 * 60_000;
const DEFAULT_RELEASE_COMMAND_TIMEOUT_MS = 5 * 60_000;
/** Resolving the image, leases, each machine's smoke-check window, DNS checks. */
const DEPLOY_OVERHEAD_MS = 3 * 60_000;
const PER_MACHINE_OVERHEAD_MS = 20_000;

/**
 * How long a healthy but slow `fly deploy` may take (Corrections 6): the release_command's own
 * timeout, then per batch of machines a start wait and a health wait of --wait-timeout each, batches
 * one after another. Rolling and canary are counted one machine per batch (max_unavailable may
 * allow more, never fewer); immediate and bluegreen wait for all machines at once.
 */
export function deployBudgetMs(input: { strategy: string; machineCount: number; waitTimeoutMs: number; releaseCommandTimeoutMs: number }): number {
  // The first deploy of an app creates two machines (--ha).
  const machines = Math.max(input.machineCount, 2);
  const batches = input.strategy === 'immediate' || input.strategy === 'bluegreen' ? 1 : machines + (input.strategy === 'canary' ? 1 : 0);
  return input.releaseCommandTimeoutMs + batches * 2 * input.waitTimeoutMs + DEPLOY_OVERHEAD_MS + machines * PER_MACHINE_OVERHEAD_MS;
}

// ---------------------------------------------------------------- activities

/** `fly logs --no-tail` waits while the app has no line at all; this long means none. */
const LOGS_TIMEOUT_MS = 15_000;

export function createFlyActivities({ env, logger, workDir }: FlyDeps) {
  const flyEnv = (own: Record<string, string | undefined> = {}) => flyctlEnvironment(childProcessEnv(), { FLY_API_TOKEN: env.flyToken, FLY_REGISTRY_HOST: env.FLY_REGISTRY_HOST, ...own });

  function requireToken(): void {
    if (!env.flyToken) throw permanentFailure(PermanentError.FlyAuthMissing, 'No Fly token: set FLY_API_TOKEN (or FLY_ACCESS_TOKEN) in the worker environment');
  }

  // flyctl reads a fly.toml from its working directory (checks, release_command, even the app),
  // so it never runs where the worker happens to start, which may hold an unrelated fly.toml.
  async function neutralDir(): Promise<string> {
    await fs.promises.mkdir(workDir, { recursive: true });
    return workDir;
  }

  /**
   * `quiet`: no heartbeats of its own (inside an activity whose heartbeats carry its own state:
   * flyDeployImage's checkpoint, the health verdict's probe streak); `signal`: what stops a quiet
   * call (default: the activity's cancellation).
   */
  interface CallOptions { timeoutMs?: number; cwd?: string; quiet?: boolean; signal?: AbortSignal }

  async function flyctl(command: string, args: string[], options: CallOptions = {}): Promise<RunResult> {
    requireToken();
    const cwd = options.cwd ?? await neutralDir();
    const run = (signal: AbortSignal, onLine?: (line: string) => void) =>
      runCommand(env.FLYCTL_PATH, args, { cwd, env: flyEnv(), timeoutMs: options.timeoutMs ?? 60_000, signal, onLine });
    const result = options.quiet
      ? await run(options.signal ?? Context.current().cancellationSignal)
      : await withHeartbeat(`flyctl ${command}`, (progress) => run(progress.signal, progress.report));
    if (result.isCancelled) throw new CancelledFailure(`flyctl ${command} was cancelled`);
    if (result.exitCode !== 0) throw classifyFlyFailure(command, result);
    return result;
  }

  async function flyctlJson<T>(command: string, args: string[], schema: z.ZodType<T>, options: CallOptions = {}): Promise<T> {
    const result = await flyctl(command, args, options);
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
  const QUIET: CallOptions = { quiet: true };

  async function listReleases(flyApp: string, options: CallOptions = {}): Promise<FlyRelease[]> {
    const releases = await flyctlJson('releases', ['releases', ...app(flyApp), '--json'], z.array(releaseSchema).nullable(), options);
    return (releases ?? []).map((r) => ({ id: r.ID, version: r.Version, status: r.Status, imageRef: r.ImageRef, createdAt: r.CreatedAt }));
  }

  async function listMachines(flyApp: string, options: CallOptions = {}) {
    return (await flyctlJson('machine list', ['machine', 'list', ...app(flyApp), '--json'], z.array(machineSchema).nullable(), options)) ?? [];
  }

  /**
   * Every started machine's checks passing. `checks list` also lists stopped and standby machines,
   * and a check that has not reported yet has no status (Corrections 10): only started machines
   * are judged, and the checks are read again until they pass or the deadline (or `watch.signal`).
   */
  async function readMachineChecks(flyApp: string, options: MachineCheckOptions, watch: CheckWatch, call: CallOptions = {}): Promise<MachineChecks> {
    const deadline = Date.now() + (options.deadlineMs ?? 30_000);
    for (;;) {
      const [checks, machines] = [
        await flyctlJson('checks list', ['checks', 'list', ...app(flyApp), '--json'], checksSchema, call),
        await listMachines(flyApp, call),
      ];
      const started = new Set(machines.filter((m) => m.state === 'started' && (!options.machineIds || options.machineIds.includes(m.id))).map((m) => m.id));
      const all = Object.entries(checks).filter(([machine]) => started.has(machine))
        .flatMap(([machine, list]) => (list ?? []).map((c) => ({ machine, ...c })));
      const failing = all.filter((c) => c.status !== 'passing')
        .map((c) => `${c.machine} ${c.name ?? '(unnamed check)'}: ${c.status ?? 'no status yet'}${c.output ? ` (${redactText(c.output).slice(0, 80)})` : ''}`);
      if (failing.length === 0 || Date.now() >= deadline || watch.signal.aborted) return { isAllPassing: failing.length === 0, total: all.length, failing };
      watch.report(`${failing.length} check(s) not passing yet`);
      await pause(options.intervalMs ?? 1000, watch.signal);
    }
  }

  async function machineSnapshot(flyApp: string): Promise<MachineSnapshot[]> {
    return (await listMachines(flyApp, QUIET)).map((m) => ({ id: m.id, image: imageOf(m), releaseVersion: m.config?.metadata?.fly_release_version ?? '' }))
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  return {
    async flyAppStatus(flyApp: string): Promise<FlyAppStatus> {
      const status = await flyctlJson('status', ['status', ...app(flyApp), '--json'], statusSchema);
      const machines = (status.Machines ?? []).map((m) => ({ id: m.id, state: m.state, region: m.region, image: imageOf(m) }));
      return {
        flyApp,
        appUrl: status.AppURL || `https://${status.Hostname ?? `${flyApp}.fly.dev`}`,
        releaseVersion: status.Version,
        machines,
        servingImage: mostCommon(machines.filter((m) => m.state === 'started').map((m) => m.image)),
      };
    },

    /**
     * `fly logs --no-tail --json`: the app's recent lines (the API gives about the last 100), scanned
     * here so only counts and a few redacted sample lines leave the activity. flyctl keeps polling
     * while an app has no line at all (reference §logs): a timeout with nothing printed is "no lines".
     */
    async flyLogScan(input: { flyApp: string } & LogScanInput): Promise<LogScan> {
      requireToken();
      const args = ['logs', ...app(input.flyApp), '--no-tail', '--json'];
      const cwd = await neutralDir();
      const result = await withHeartbeat('flyctl logs', (progress) =>
        runCommand(env.FLYCTL_PATH, args, { cwd, env: flyEnv(), timeoutMs: LOGS_TIMEOUT_MS, signal: progress.signal }));
      if (result.isCancelled) throw new CancelledFailure('flyctl logs was cancelled');
      const isEmptyWait = result.isTimedOut && result.stdout.trim() === '';
      if (result.exitCode !== 0 && !isEmptyWait) throw classifyFlyFailure('logs', result);
      const scan = scanLogEntries(parseLogEntries(result.stdout), input);
      return { ...scan, samples: scan.samples.map(redactText) };
    },

    async flySecretNames(flyApp: string): Promise<string[]> {
      const secrets = await flyctlJson('secrets list', ['secrets', 'list', ...app(flyApp), '--json'], z.array(secretSchema).nullable());
      return (secrets ?? []).map((s) => s.name);
    },

    flyReleases: (flyApp: string) => listReleases(flyApp),

    /**
     * Every started machine's checks passing. `checks list` also lists stopped and standby machines,
     * and a check that has not reported yet has no status (Corrections 10): only started machines
     * are judged, and the checks are read again until they pass or the deadline.
     */
    async flyMachineChecks(flyApp: string, options: MachineCheckOptions = {}): Promise<MachineChecks> {
      return withHeartbeat('machine checks', (progress) => readMachineChecks(flyApp, options, progress));
    },

    /**
     * Health's verdict in one activity (patch health-in-one-activity): Flightdeck's probe and every
     * machine's checks at once, the first failure is the verdict (activities/healthVerdict.ts).
     * checks: how long failing checks are read again (default, as flyMachineChecks: 30 s, every second).
     */
    async verifyAppHealth(input: HealthProbeInput & { flyApp: string; checks?: Pick<MachineCheckOptions, 'deadlineMs' | 'intervalMs'> }): Promise<HealthVerdict> {
      const { flyApp, checks, ...probe } = input;
      return checkHealthAtOnce(probe, (watch) => readMachineChecks(flyApp, checks ?? {}, watch, { quiet: true, signal: watch.signal }));
    },

    /** `fly machine list --json`: every machine with its state, region, image and how many of its checks pass. */
    async flyMachineHealth(flyApp: string): Promise<FlyMachineHealth[]> {
      return (await listMachines(flyApp)).map((m) => ({
        id: m.id, state: m.state, region: m.region ?? '', image: imageOf(m),
        checksPassing: (m.checks ?? []).filter((c) => c.status === 'passing').length, checksTotal: (m.checks ?? []).length,
      }));
    },

    /**
     * `fly machine restart <id> --skip-health-checks`: the workflow waits for the machine's checks
     * itself (flyMachineChecks), with the environment's deadline instead of flyctl's fixed 300 s.
     */
    async flyRestartMachine(input: { flyApp: string; machineId: string }): Promise<void> {
      const machineId = z.string().regex(/^[0-9a-f]{8,20}$/, 'a machine id (hex)').parse(input.machineId);
      await flyctl('machine restart', ['machine', 'restart', machineId, ...app(input.flyApp), '--skip-health-checks'], { timeoutMs: 6 * 60_000 });
    },

    /** Machines per region of the app's process group (`fly scale show --json`). */
    async flyRegionCounts(flyApp: string): Promise<Record<string, number>> {
      const groups = await flyctlJson('scale show', ['scale', 'show', ...app(flyApp), '--json'], z.array(scaleGroupSchema).nullable());
      return { ...(groups ?? []).find((g) => g.Process === 'app')?.Regions };
    },

    /** `fly scale count N --yes [--region r]`: N machines in that region, else over the regions the app runs in. */
    async flyScaleCount(input: { flyApp: string; count: number; region?: string }): Promise<void> {
      const count = z.number().int().min(0).max(100).parse(input.count);
      const region = input.region === undefined ? [] : ['--region', z.string().regex(/^[a-z]{3}$/, 'a Fly region code such as ams').parse(input.region)];
      await flyctl('scale count', ['scale', 'count', String(count), ...app(input.flyApp), ...region, '--yes'], { timeoutMs: 10 * 60_000 });
    },

    /**
     * `fly deploy --build-only --push`: builds the checkout into an image and returns its ref, read
     * from the `image: …` line flyctl prints on stderr (Corrections 1). With `[build] image` in
     * fly.toml nothing is built: that image is the ref. A transient failure (a 429, a reset
     * connection, a builder that went away) is retried; a build that fails on its own terms is not.
     */
    async flyBuildImage(input: { flyApp: string; workspace: string; imageLabel: string; timeoutMs: number }): Promise<string> {
      const label = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, 'an image tag').parse(input.imageLabel);
      let result: RunResult;
      try {
        result = await flyctl('deploy --build-only', ['deploy', input.workspace, ...app(input.flyApp), '--build-only', '--push',
          '--image-label', label, '--yes'], { timeoutMs: input.timeoutMs, cwd: input.workspace });
      } catch (err) {
        if (err instanceof CancelledFailure || (err as { nonRetryable?: boolean }).nonRetryable === false) throw err;
        throw permanentFailure(PermanentError.BuildFailed, `Build failed: ${(err as Error).message}`);
      }
      const printed = /^image:\s*(\S+)\s*$/m.exec(result.stderr)?.[1] ?? /^image:\s*(\S+)\s*$/m.exec(result.stdout)?.[1];
      const settings = await readFlyToml(path.join(input.workspace, 'fly.toml'));
      const image = printed ?? settings.buildImage ?? `${env.FLY_REGISTRY_HOST ?? 'registry.fly.io'}/${input.flyApp}:${label}`;
      return imageRef.parse(image);
    },

    /**
     * `fly deploy --image`. flyctl runs detached with its output in files, so a worker that dies or
     * shuts down mid-deploy does not take the rollout with it: a retry resumes from the heartbeat
     * details (flyctl's pid, the release version) or finds the release above the baseline, and
     * waits for it instead of deploying again. flyctl is killed only on a real cancel.
     */
    async flyDeployImage(input: DeployInput): Promise<DeployOutcome> {
      requireToken();
      const image = imageRef.parse(input.image);
      const waitTimeout = flyDuration.parse(input.waitTimeout);
      if (input.baselineReleaseVersion !== null && !Number.isInteger(input.baselineReleaseVersion)) {
        throw permanentFailure(PermanentError.InvalidInput, 'baselineReleaseVersion must be the app\'s release version before the deploy, or null when it had none');
      }
      if (input.configPath !== undefined && !path.isAbsolute(input.configPath)) {
        throw permanentFailure(PermanentError.InvalidInput, `configPath must be an absolute path to a fly.toml, got ${input.configPath}`);
      }
      const context = Context.current();
      const checkpoint = context.info.attempt > 1 ? context.info.heartbeatDetails as DeployCheckpoint | undefined : undefined;
      const configPath = input.configContent !== undefined
        ? await writeDeployConfig(input.workDir, input.configContent)
        : input.configPath && await exists(input.configPath) ? input.configPath : undefined;
      const before = checkpoint?.before ?? await machineSnapshot(input.flyApp);
      const settings = configPath ? await readFlyToml(configPath) : {};
      const deadlineAt = checkpoint?.deadlineAt ?? Date.now() + deployBudgetMs({
        strategy: input.strategy, machineCount: before.length,
        waitTimeoutMs: goDurationToMs(waitTimeout) ?? DEFAULT_WAIT_TIMEOUT_MS,
        releaseCommandTimeoutMs: (settings.releaseCommandTimeout && goDurationToMs(settings.releaseCommandTimeout, { allowBareSeconds: true })) || DEFAULT_RELEASE_COMMAND_TIMEOUT_MS,
      });
      const deploy = { ...input, image, before, deadlineAt };

      if (context.info.attempt > 1) {
        const resumed = await resumeDeploy(deploy, checkpoint);
        if (resumed) return resumed;
      }
      const args = ['deploy', ...app(input.flyApp), '--image', image, '--strategy', input.strategy, '--wait-timeout', waitTimeout, '--yes'];
      if (configPath) args.push('--config', configPath);
      return runDetachedDeploy(deploy, args, configPath ? path.dirname(configPath) : await neutralDir());
    },
  };

  function deployLogDir(runWorkDir: string): string {
    return path.resolve(workDir, runWorkDir.replace(/[^A-Za-z0-9._/-]/g, '_').replace(/\.\./g, '_'));
  }

  async function writeDeployConfig(runWorkDir: string, content: string): Promise<string> {
    const dir = path.join(deployLogDir(runWorkDir), 'config');
    await fs.promises.mkdir(dir, { recursive: true });
    const file = path.join(dir, 'fly.toml');
    await fs.promises.writeFile(file, content);
    return file;
  }

  async function readFlyToml(file: string): Promise<FlyTomlSettings> {
    try {
      return readFlyTomlSettings(await fs.promises.readFile(file, 'utf8'));
    } catch {
      return {};
    }
  }

  type Deploy = DeployInput & { before: MachineSnapshot[]; deadlineAt: number };

  /** Our release: the one the checkpoint names, else the newest above the baseline with our image. */
  async function findOurRelease(deploy: Deploy, releaseVersion: number | undefined): Promise<FlyRelease | undefined> {
    const releases = await listReleases(deploy.flyApp, QUIET);
    if (releaseVersion !== undefined) return releases.find((r) => r.version === releaseVersion);
    return releases.filter((r) => isAboveBaseline(r, deploy.baselineReleaseVersion) && r.imageRef === deploy.image).sort((a, b) => b.version - a.version)[0];
  }

  /**
   * A retried attempt: flyctl may still run (a worker that shut down or died leaves it running), or
   * have finished, or be gone with its release stuck. Undefined means: nothing of ours happened yet,
   * or it was interrupted, so deploy (again).
   */
  async function resumeDeploy(deploy: Deploy, checkpoint: DeployCheckpoint | undefined): Promise<DeployOutcome | undefined> {
    const isOurHost = checkpoint?.host === os.hostname();
    if (checkpoint?.pid && isOurHost && isFlyctlRunning(checkpoint.pid, deploy.image)) {
      logger.info({ flyApp: deploy.flyApp, pid: checkpoint.pid, attempt: Context.current().info.attempt }, 'flyctl deploy from an earlier attempt is still running; waiting for it');
      await waitWhile('flyctl deploy (earlier attempt)', () => isFlyctlRunning(checkpoint.pid!, deploy.image), deploy, checkpoint);
      const output = checkpoint.logFile ? await readOutput(checkpoint.logFile) : { stdout: '', stderr: '' };
      return judgeFinishedDeploy(deploy, { exitCode: undefined, signal: undefined, ...output, isTimedOut: false, isCancelled: false, durationMs: 0 });
    }
    let release = await findOurRelease(deploy, checkpoint?.releaseVersion);
    if (!release) return undefined;
    if (release.status === 'pending' || release.status === 'running') {
      // flyctl is gone on this host: the release will never finish. Deploy again (a new release).
      if (isOurHost && checkpoint?.pid) {
        logger.warn({ flyApp: deploy.flyApp, release: release.version }, 'the flyctl that ran this release is gone; deploying again');
        return undefined;
      }
      logger.info({ flyApp: deploy.flyApp, release: release.version }, 'release of this deploy is under way; waiting for it');
      await waitWhile(`release v${release.version}`, async () => {
        release = (await findOurRelease(deploy, release!.version)) ?? release!;
        return release.status === 'pending' || release.status === 'running';
      }, deploy, { ...checkpoint, releaseVersion: release.version });
    }
    if (release.status === 'complete') return { releaseVersion: release.version, releaseId: release.id, imageRef: release.imageRef };
    if (release.status === 'interrupted') return undefined;
    const output = checkpoint?.logFile ? await readOutput(checkpoint.logFile) : { stdout: '', stderr: '' };
    throw await judgeFailedDeploy(deploy, classifyFlyFailure('deploy', { exitCode: 1, signal: undefined, ...output, isTimedOut: false, isCancelled: false, durationMs: 0 }),
      `release v${release.version} ended ${release.status}`);
  }

  /** Polls while `isBusy`, heartbeating the checkpoint; a shutdown or the deploy's deadline ends the wait. */
  async function waitWhile(what: string, isBusy: () => Promise<boolean> | boolean, deploy: Deploy, checkpoint: Partial<DeployCheckpoint> | undefined): Promise<void> {
    const context = Context.current();
    const beat = (lastLine: string) => context.heartbeat({ ...checkpoint, phase: what, lastLine, deadlineAt: deploy.deadlineAt, before: deploy.before } satisfies DeployCheckpoint);
    beat('waiting');
    while (await isBusy()) {
      if (Date.now() > deploy.deadlineAt) throw transientFailure('FlyTransient', `${what} still running at the deploy's deadline`);
      throwIfCancelled(what);
      beat('waiting');
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  function throwIfCancelled(what: string): void {
    const context = Context.current();
    if (!context.cancellationSignal.aborted) return;
    if (isRealCancel(context)) throw new CancelledFailure(`${what}: cancelled`);
    throw shutdownFailure(what);
  }

  async function runDetachedDeploy(deploy: Deploy, args: string[], cwd: string): Promise<DeployOutcome> {
    const logDir = deployLogDir(deploy.workDir);
    await fs.promises.mkdir(logDir, { recursive: true });
    const logFile = path.join(logDir, `deploy-${Date.now()}-${Context.current().info.attempt}.log`);
    // Not started at all once cancelled or shutting down: a flyctl that nothing watches (its pid was
    // never heartbeated) would race the next attempt's deploy on the same machines.
    throwIfCancelled('flyctl deploy (not started)');
    const startedAt = Date.now();
    // From the command launcher, like every command (a start from this large process blocked its event
    // loop for tens of ms), into files, not pipes: flyctl keeps writing if this worker process dies,
    // and nothing ends it but a real cancel, the deadline, or its own exit.
    const flyctl = await startDetachedCommand(env.FLYCTL_PATH, args, { cwd, env: flyEnv({ FLY_EMIT_RELEASE_JSON: '1' }), stdoutFile: logFile, stderrFile: `${logFile}.err` });
    const { pid } = flyctl;
    let isSettled = false;
    // The launcher reports the exit; one that went away (killed, or a Ctrl-C to its process group) leaves
    // flyctl running, watched by its pid, its exit code unknown (as when an earlier attempt started it).
    const ended = flyctl.exit.then(async (exit) => {
      while (exit.isLost && !isSettled && isFlyctlRunning(pid, deploy.image)) await new Promise((resolve) => setTimeout(resolve, 500));
      return exit;
    });
    const killGroup = (signal: NodeJS.Signals) => { try { process.kill(-pid, signal); } catch { /* gone */ } };
    const context = Context.current();
    const checkpoint: DeployCheckpoint = { phase: 'flyctl deploy', lastLine: '', pid, host: os.hostname(), logFile, deadlineAt: deploy.deadlineAt, before: deploy.before };
    context.heartbeat(checkpoint);
    let isCancelled = false;
    let isTimedOut = false;
    let stopReason: 'shutdown' | undefined;
    const exit = await new Promise<CommandExit | undefined>((resolve) => {
      const stop = () => { killGroup('SIGTERM'); setTimeout(() => killGroup('SIGKILL'), 10_000).unref(); };
      const onAbort = () => {
        if (isRealCancel(context)) {
          isCancelled = true;
          stop();
          return;
        }
        // A worker shutting down (or losing the activity) never stops the rollout: the next attempt resumes it.
        stopReason = 'shutdown';
        finish(undefined);
      };
      const deadline = setTimeout(() => { isTimedOut = true; stop(); }, Math.max(0, deploy.deadlineAt - Date.now()));
      let lookups = 0;
      const tick = setInterval(() => {
        void readTail(logFile).then((text) => {
          checkpoint.lastLine = redactText(lastLine(text)).slice(0, 300);
          context.heartbeat(checkpoint);
        });
        // Learn our release's version once it exists, so a retry need not guess.
        if (checkpoint.releaseVersion === undefined && lookups++ % 3 === 0) {
          void findOurRelease(deploy, undefined).then((r) => { if (r) checkpoint.releaseVersion = r.version; }, () => undefined);
        }
      }, 1000);
      const finish = (value: CommandExit | undefined) => {
        isSettled = true;
        clearTimeout(deadline);
        clearInterval(tick);
        context.cancellationSignal.removeEventListener('abort', onAbort);
        resolve(value);
      };
      context.cancellationSignal.addEventListener('abort', onAbort, { once: true });
      void ended.then(finish);
      // Aborted while flyctl started: the event has fired already, so act on it now.
      if (context.cancellationSignal.aborted) onAbort();
    });
    if (stopReason === 'shutdown' || !exit) throw shutdownFailure(`flyctl deploy (pid ${pid})`);
    const output = await readOutput(logFile);
    const result: RunResult = { exitCode: exit.exitCode, signal: exit.signal, ...output, isTimedOut, isCancelled, durationMs: Date.now() - startedAt };
    if (isCancelled) throw new CancelledFailure('flyctl deploy was cancelled');
    return judgeFinishedDeploy(deploy, result);
  }

  /** flyctl has exited (its exit code is unknown when an earlier attempt started it). */
  async function judgeFinishedDeploy(deploy: Deploy, result: RunResult): Promise<DeployOutcome> {
    const releaseLine = result.stdout.split('\n').map((l) => l.trim()).find((l) => l.startsWith('{') && l.includes('"image_ref"'));
    const emitted = releaseLine ? releaseLineSchema.safeParse(safeJson(releaseLine)) : undefined;
    if (emitted?.success && (result.exitCode === 0 || result.exitCode === undefined)) {
      return { releaseVersion: emitted.data.version, releaseId: emitted.data.id, imageRef: emitted.data.image_ref };
    }
    if (result.exitCode === 0) return { imageRef: deploy.image };
    if (result.exitCode === undefined) {
      const release = await findOurRelease(deploy, undefined);
      if (release?.status === 'complete') return { releaseVersion: release.version, releaseId: release.id, imageRef: release.imageRef };
    }
    throw await judgeFailedDeploy(deploy, classifyFlyFailure('deploy', result.exitCode === undefined ? { ...result, exitCode: 1 } : result));
  }

  /**
   * "Nothing was rolled out" is Fly's state, not a phrase: no release above the baseline, or every
   * machine still on the image and release it had before. Then the failure is DeployNothingRolledOut
   * (or ReleaseCommandFailed), which needs no rollback; otherwise a rollout failure.
   */
  async function judgeFailedDeploy(deploy: Deploy, failure: Error, context = ''): Promise<Error> {
    const failureInfo = failure as { type?: string; nonRetryable?: boolean };
    const cause = failure.message.replace(/^flyctl deploy failed: /, '');
    const after = await machineSnapshot(deploy.flyApp).catch(() => undefined);
    const releases = await listReleases(deploy.flyApp, QUIET).catch(() => undefined);
    const hasNewRelease = releases?.some((r) => isAboveBaseline(r, deploy.baselineReleaseVersion));
    const isUnchanged = hasNewRelease === false || (after !== undefined && sameMachines(deploy.before, after));
    if (after === undefined && hasNewRelease !== false) return failure; // Fly's state unknown: the words are all there is.
    if (isUnchanged) {
      if (failureInfo.nonRetryable === false) return failure; // a 429 before anything happened: try again
      if (failureInfo.type === PermanentError.ReleaseCommandFailed) return permanentFailure(PermanentError.ReleaseCommandFailed, cause);
      return permanentFailure(PermanentError.DeployNothingRolledOut, `${cause} (no machine changed)`);
    }
    if (failureInfo.nonRetryable === false) return failure;
    const type = failureInfo.type === PermanentError.DeployHealthTimeout || failureInfo.type === PermanentError.DeployCrashLoop || failureInfo.type === PermanentError.DeployRolloutFailed
      ? failureInfo.type : PermanentError.DeployRolloutFailed;
    return permanentFailure(type, `${cause}${context ? ` (${context})` : ''}; machines were changed`);
  }
}

export type FlyActivities = ReturnType<typeof createFlyActivities>;

function isAboveBaseline(release: FlyRelease, baseline: number | null): boolean {
  return baseline === null || release.version > baseline;
}

function sameMachines(before: MachineSnapshot[], after: MachineSnapshot[]): boolean {
  const key = (list: MachineSnapshot[]) => JSON.stringify([...list].sort((a, b) => a.id.localeCompare(b.id)).map((m) => [m.id, m.image, m.releaseVersion]));
  return key(before) === key(after);
}

/** A real cancel (the workflow asked), as opposed to a worker shutting down or a lost activity. */
function isRealCancel(context: Context): boolean {
  const details = context.cancellationDetails;
  const reason = context.cancellationSignal.reason as { message?: string } | undefined;
  return reason?.message === 'CANCELLED' || details?.cancelRequested === true;
}

function shutdownFailure(what: string) {
  return transientFailure('FlyTransient', `${what}: the worker is shutting down; flyctl keeps running and the next attempt resumes it`);
}

function isFlyctlRunning(pid: number, image: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // A zombie has exited; a reused pid runs something else.
    if (/\)\s+Z\s/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))) return false;
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(image);
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

function imageOf(m: z.infer<typeof machineSchema>): string {
  return m.config?.image ?? [m.image_ref?.registry, m.image_ref?.repository].filter(Boolean).join('/') + (m.image_ref?.tag ? `:${m.image_ref.tag}` : '');
}

async function exists(file: string): Promise<boolean> {
  return fs.promises.access(file).then(() => true, () => false);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function readOutput(logFile: string): Promise<{ stdout: string; stderr: string }> {
  return { stdout: redactText(await readTail(logFile)), stderr: redactText(await readTail(`${logFile}.err`)) };
}

async function readTail(file: string, bytes = 64 * 1024): Promise<string> {
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(file, 'r');
    const { size } = await handle.stat();
    const buffer = Buffer.alloc(Math.min(size, bytes));
    await handle.read(buffer, 0, buffer.length, Math.max(0, size - bytes));
    return buffer.toString('utf8');
  } catch {
    return '';
  } finally {
    await handle?.close();
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
    env: flyctlEnvironment(options.env), timeoutMs: PROXY_LIFETIME_MS, signal: options.signal, hasStdin: true, killGraceMs: 2000,
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
