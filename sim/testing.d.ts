// Types of sim/testing.js: helpers for tests and sandbox mode around the flyctl simulator.

/** A route the simulated app serves: status (default 200), a text body or a JSON body, headers. */
export interface SimRoute {
  status?: number;
  body?: string;
  json?: unknown;
  headers?: Record<string, string>;
}

/** sim-app.json: how an image built from a source directory behaves. Every field is optional. */
export interface SimAppManifest {
  /** Shown by `/` ("<app> <version>"), the x-sim-version header and /__sim/info. Default "v<N>" per source dir. */
  version?: string;
  /** Path the app answers its health on (default "/health"); the fly.toml check path should match. */
  healthPath?: string;
  /** "fail": the health endpoint always answers 500; "fail-except-first": only on the machine whose id sorts first (a rolling deploy's spearhead). */
  health?: 'pass' | 'fail' | 'fail-except-first';
  /** The health endpoint answers 503 until this long after the process started. */
  healthyAfterMs?: number;
  /** After this many successful health responses (platform checks included) health answers 500. */
  failHealthAfterRequests?: number;
  /** From this long after the process started, health answers 500 (a restart starts the clock again). */
  failHealthAfterMs?: number;
  /**
   * How `machine restart` treats failHealthAfterMs: true (default) starts its clock again; false: it
   * counts from when the machine got this image, so a restart does not heal; 'permanently': once
   * restarted, the machine no longer degrades (until it gets another image).
   */
  restartHeals?: boolean | 'permanently';
  /** The process exits with status 1 right after starting (deploy: "the app appears to be crashing"). */
  crashOnStart?: boolean;
  /** The process listens only after this delay (the machine stays "starting"). */
  startDelayMs?: number;
  /** Extra endpoints, e.g. { "/": { status: 500 } } to fail smoke checks. */
  routes?: Record<string, SimRoute>;
  /** How fly.toml's release_command ends on this image (default exit 0 at once). */
  releaseCommand?: { exitCode?: number; output?: string[]; durationMs?: number };
  /** How a fly.toml machine_checks test machine ends on this image (with SourceDirOptions.machineChecks). */
  machineCheck?: { exitCode?: number; durationMs?: number };
  /** Whether building this source fails (error text defaults to a buildkit "failed to solve" line). */
  build?: { fails?: boolean; error?: string; durationMs?: number };
  /**
   * Synthetic traffic counted in /metrics besides real requests: requestsPerSecond since the process
   * started (default 0), errorRate of them answered 500 (0..1, default 0), each taking latencyMs (default 20).
   */
  traffic?: { requestsPerSecond?: number; errorRate?: number; latencyMs?: number };
  /** The image's own log lines, printed in turn every everyMs (default 1000) while the machine runs; a string is an info line. */
  logs?: { everyMs?: number; lines?: Array<string | { level?: string; message: string }> };
}

export type SimBehaviourName = 'healthy' | 'unhealthy' | 'smoke-fails' | 'crash' | 'slow-start' | 'release-fails' | 'build-fails' | 'degrades';
export type SimBehaviour = SimBehaviourName | SimAppManifest;

export const BEHAVIOURS: Readonly<Record<SimBehaviourName, SimAppManifest>>;

/** Absolute path of sim/bin/flyctl: flyctl as a node process per call (what the client falls back to). */
export const FLYCTL_PATH: string;

/** The built client of the simulator's flyctl server (scripts/flyctl-client.sh), or null when it is not built. */
export function flyctlClientPath(): string | null;

export interface SimSettings {
  /** Machines and routers exit when this process dies (default: the process that called createSim). */
  ownerPid: number | null;
  /** When set, only these tokens are accepted (others: "You must be authenticated to view this."). */
  validTokens: string[] | null;
  user: { id: string; name: string; email: string };
  org: { id: string; internalNumericId: string; name: string; slug: string };
  /** Region of new machines when fly.toml names none (default "iad"). */
  region: string;
  /** How long a new machine is watched for crashing (flyctl: ~10 s; simulator default 100 ms). */
  smokeCheckMs: number;
  /** Interval of health polling during deploys (default 50 ms). */
  healthPollMs: number;
  /**
   * Caps every deploy's --wait-timeout (default null: no cap), so code that passes flyctl's 5m default
   * still fails fast against an unhealthy image in tests.
   */
  maxWaitTimeoutMs: number | null;
  /** A listening machine writes a Prometheus file_sd target file here (labels app, instance, region); default null: none. */
  metricsTargetsDir: string | null;
}

export interface CreateSimOptions {
  /** State directory (FLY_SIM_DIR). Default: a new temp dir, removed by teardown(). */
  dir?: string;
  /** See SimSettings.ownerPid; null keeps processes alive without an owner. */
  ownerPid?: number | null;
  settings?: Partial<Omit<SimSettings, 'ownerPid'>>;
}

export interface SourceDirOptions {
  /** `app` in fly.toml. */
  app?: string;
  /** [deploy] release_command (default "bin/migrate" when the manifest has a releaseCommand). */
  releaseCommand?: string;
  /** [deploy] strategy. */
  strategy?: 'rolling' | 'immediate' | 'canary' | 'bluegreen';
  /** [deploy] release_command_timeout, e.g. "1s" (flyctl's default is 5m). */
  releaseCommandTimeout?: string;
  /** Path of the [[http_service.checks]] check (default: the manifest's healthPath or "/health"). */
  checkPath?: string;
  /** Adds [[http_service.machine_checks]]: a test machine per updated machine (see SimAppManifest.machineCheck). */
  machineChecks?: boolean;
  /** TOML appended as is (e.g. a [[files]] section or top-level [checks]). */
  extraToml?: string;
}

export interface CreateAppOptions {
  /** Number of running machines after the initial deploy (default 1; 0 creates the app only). */
  machines?: number;
  /** A source directory, or the behaviour of the initial image (default "healthy"). */
  image?: string | SimBehaviour;
  releaseCommand?: string;
  strategy?: SourceDirOptions['strategy'];
}

export interface SimApp {
  name: string;
  /** The source directory the initial image was built from. */
  sourceDir: string;
  /** The image of the initial (complete) release, e.g. registry.fly.io/<app>:deployment-01J… */
  imageRef: string;
  /** The app's router, as `fly status --json` reports it in AppURL: http://127.0.0.1:<port> */
  appUrl: string;
}

export interface RunOptions {
  /** Working directory (default: the state directory, so no stray fly.toml is picked up). */
  cwd?: string;
  /** Extra environment, on top of process.env (without LOG_LEVEL) and sim.env. */
  env?: Record<string, string | undefined>;
  /** stdin. */
  input?: string;
  /** Sends SIGTERM after this long (flyctl then exits 127). */
  timeoutMs?: number;
}

export interface RunResult {
  exitCode: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export type FaultSpec =
  /** Transient platform errors ("429 Too Many Requests" / "connection reset by peer"); times defaults to 1. */
  | { kind: 'rate-limited' | 'connection-reset'; times?: number | null; message?: string }
  /** A permanent failure with this text (printed as "Error: <message>"); times defaults to every call. */
  | { kind: 'fail'; message: string; times?: number | null; exitCode?: number }
  /** The call hangs (until killed, or for hangMs, after which it runs normally); times defaults to every call. */
  | { kind: 'hang'; hangMs?: number | null; times?: number | null };

export interface CallRecord {
  at: string;
  /** Canonical command: "deploy", "secrets set", "machine list" (aliases resolved), … */
  command: string;
  /** Arguments with access tokens and secret values replaced by <redacted>. */
  argv: string[];
  exitCode: number;
  durationMs: number;
  pid: number;
  /** Set when an injected fault was acted out. */
  fault?: string;
  /** deploy: the image built or resolved. */
  image?: string;
  /** deploy / secrets restarts: the image a release was created for, and its version. */
  deployedImage?: string;
  releaseVersion?: number;
  [key: string]: unknown;
}

/** A flyctl call that keeps running (proxy, logs without --no-tail). */
export interface RunningCommand {
  readonly pid: number;
  /** Ends its stdin (`proxy --watch-stdin` then stops, as flyctl does). */
  closeStdin(): void;
  /** Resolves with the first match of the pattern in stdout (or stderr). */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Signals it (default SIGTERM; flyctl then exits 127) and resolves when it has exited. */
  stop(signal?: NodeJS.Signals): Promise<RunResult>;
  readonly exited: Promise<RunResult>;
}

export interface Sim {
  /** The state directory. */
  readonly dir: string;
  /** What child processes need: FLY_SIM_DIR, FLYCTL_PATH and an access token. */
  readonly env: { FLY_SIM_DIR: string; FLYCTL_PATH: string; FLY_API_TOKEN: string };
  /** The flyctl the tests run: the client of the directory's flyctl server, or sim/bin/flyctl when the client is not built. */
  readonly flyctlPath: string;
  /** Pid of the directory's flyctl server (sim/lib/flyctl-server.js); null when flyctl runs as a node process per call. */
  readonly serverPid: number | null;
  /** Runs `flyctl ...args` against this simulator. */
  run(args: string[], options?: RunOptions): Promise<RunResult>;
  /** Like run, but rejects unless the exit code is 0. */
  runOrThrow(args: string[], options?: RunOptions): Promise<RunResult>;
  /** Starts a long-running `flyctl ...args` (e.g. proxy). */
  start(args: string[], options?: Omit<RunOptions, 'input' | 'timeoutMs'>): RunningCommand;
  /** Runs `flyctl ...args --json` and parses stdout. */
  runJson<T = unknown>(args: string[], options?: RunOptions): Promise<T>;
  /** Creates the app, deploys an image of the given behaviour and scales it to N running machines. */
  createApp(name: string, options?: CreateAppOptions): Promise<SimApp>;
  /** Writes a source directory (sim-app.json + fly.toml) for `flyctl deploy <dir>`. */
  makeSourceDir(behaviour?: SimBehaviour, options?: SourceDirOptions): string;
  /**
   * The app's releases, newest first, as `flyctl releases --json` prints them (all of them, not the
   * newest 25), read from the state in this process: for tests that poll, without a flyctl process
   * per look.
   */
  releases(appName: string): Array<{ ID: string; Version: number; Status: string; ImageRef: string; CreatedAt: string } & Record<string, unknown>>;
  /** The image of each of the app's machines (by machine id), as `flyctl machine list --json` has it in config.image; read in this process. */
  machineImages(appName: string): string[];
  /** The app's router URL (AppURL). */
  appUrl(appName: string): string;
  /** Makes calls of a command ("deploy", "secrets set", "status", "*" for any) fail or hang. */
  injectFault(command: string, fault: FaultSpec): Promise<void>;
  /** Faults not yet used up (remaining null: every call). */
  pendingFaults(): Array<{ command: string; kind: FaultSpec['kind']; remaining: number | null }>;
  clearFaults(): Promise<void>;
  configure(settings: Partial<SimSettings>): Promise<void>;
  /** Where `flyctl proxy` for this app forwards to (e.g. a local PostgreSQL). */
  setProxyTarget(appName: string, host: string, port: number): Promise<void>;
  callLog(): CallRecord[];
  callCount(command: string): number;
  /** How many deploys created a release for this image. */
  deployCount(imageRef: string): number;
  /** Stops a machine (process gone, state "stopped"), as `fly machine stop` would. */
  stopMachine(appName: string, machineId: string): Promise<void>;
  /** Pids of this simulator's running machine, router and proxy processes. */
  processIds(): number[];
  /** The raw simulator state (for assertions the CLI does not expose). */
  readState(): unknown;
  /** Stops every process of this simulator and removes its directory if createSim made it. */
  teardown(): Promise<void>;
}

/**
 * Prepares a state directory (created in the OS temp dir unless given). Given a directory an earlier
 * run left behind, it restarts its routers and the machines that were running (sandbox restarts).
 */
export function createSim(options?: CreateSimOptions): Promise<Sim>;

/** True while the process runs (a zombie counts as gone). */
export function isProcessRunning(pid: number): boolean;

/** Stops every machine, router and proxy process of a state directory; resolves with their pids. */
export function killAllSimProcesses(dir: string): Promise<number[]>;
