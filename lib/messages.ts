// Messages (queries, updates, signals) and the shapes they carry, shared by workflows and clients.
// Workflow-safe: imports only @temporalio/workflow definitions and pure types.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { GitHubDeploymentRequest } from './githubDeployments.js';
import type { Promotion } from './promotion.js';
import type { MigrationSafetyReport } from './migrationSafety.js';

export type RunKind = 'deploy' | 'rollback' | 'backup' | 'restore' | 'migrate' | 'incident' | 'scale';
export const RUN_STATES = [
  'queued', 'running', 'waiting-for-approval', 'waiting-for-decision', 'succeeded', 'failed', 'rolled-back', 'cancelled', 'superseded', 'refused',
] as const;
export type RunState = (typeof RUN_STATES)[number];
export type StageState = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped';

export interface StageStatus {
  name: string;
  state: StageState;
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
  /** One line a human reads: "image registry.fly.io/shop:abc123", "3/3 probes ok". */
  detail?: string;
}

export interface Trigger {
  source: 'github' | 'ci' | 'slack' | 'api' | 'cli' | 'schedule' | 'pipeline';
  actor: string;
  /**
   * Who started the run, authenticated: a Slack user id from a signed request, `token:<name>` for an
   * API token, `cli:<OS user>` for the CLI. Four-eyes compares approvers with it. Absent for CI and
   * schedules (and runs started before it existed: a Slack run's actor is then its identity).
   */
  identity?: string;
  /** The webhook delivery id (or idempotency key) the run was started for. */
  deliveryId?: string;
}

/** What every workflow's `status` query answers. Kind-specific facts go in `facts`. */
export interface RunStatus {
  kind: RunKind;
  workflowId: string;
  state: RunState;
  app?: string;
  environment?: string;
  database?: string;
  trigger: Trigger;
  startedAt: string;
  finishedAt?: string;
  currentStage?: string;
  stages: StageStatus[];
  /** Why it failed or was rolled back, in one sentence. */
  outcome?: string;
  facts: Record<string, string | number | boolean | undefined>;
  /** Per-check results (smoke checks, verification steps). */
  checks?: Array<{ name: string; isPassed: boolean; detail: string }>;
  /** While waiting for a decision: the choices offered, when not only roll back or keep. */
  decisionOptions?: Array<FailureDecision['decision']>;
}

export const statusQuery = defineQuery<RunStatus>('status');

// ---------------------------------------------------------------- deploy pipeline

export interface DeployRequest {
  app: string;
  environment: string;
  /** The git ref to check out (branch or tag); defaults to the sha. */
  ref?: string;
  sha?: string;
  /** A prebuilt image: skips test and build. */
  image?: string;
  /** Deploy through a freeze window: only people on the environment's breakGlass list may (trigger.identity). */
  breakGlass?: { reason: string };
  /** A promotion (lib/promotion.ts): the image was verified in another environment; deploy it with that fly.toml. */
  promotion?: Promotion;
  /** Show the run on GitHub as a Deployment of `sha` (set for GitHub webhooks and OIDC callers; needs apps.<app>.github.token). */
  github?: GitHubDeploymentRequest;
  trigger: Trigger;
}

export interface ApprovalDecision {
  isApproved: boolean;
  /** An authenticated identity: a Slack user id from a signed request, or `cli:<OS user>` (the CLI, an operator with Temporal access). */
  actor: string;
  comment?: string;
}
/** Approve or reject a deploy waiting for approval. The validator refuses non-approvers. */
export const approvalUpdate = defineUpdate<{ state: RunState }, [ApprovalDecision]>('approval');

export interface FailureDecision {
  /** restore: roll back the image and restore the backup taken before this deploy's migrations (offered only when there is one). */
  decision: 'rollback' | 'keep' | 'restore';
  actor: string;
}
/** With onFailure: pause, a person chooses between rolling back and keeping the new release. */
export const failureDecisionUpdate = defineUpdate<{ state: RunState }, [FailureDecision]>('failureDecision');

export interface RollbackRequest {
  app: string;
  environment: string;
  /** An image, or a release version to take the image from; absent: the last known good image. */
  target?: { image?: string; releaseVersion?: number };
  /** Set by runs recorded before the release ledger (patch release-ledger); newer runs resolve from the ledger. */
  lastKnownGoodImage?: string;
  /** The image being rolled back from (the pipeline's new release): never a candidate. */
  failingImage?: string;
  /** Roll back to a target whose verdict is failed anyway; the reason is audit-logged and kept in the ledger. */
  force?: { reason: string };
  reason: string;
  trigger: Trigger;
}

export interface RollbackResult {
  image: string;
  releaseVersion?: number;
  isHealthy: boolean;
}

// ---------------------------------------------------------------- deploy queue (one at a time per app+environment)

export interface EnqueueResult {
  /** The pipeline's workflow id: the run a caller can follow. */
  workflowId: string;
  /** accepted: handed to the queue durably without waiting for it (webhooks); its status says what became of it. */
  disposition: 'queued' | 'started' | 'duplicate' | 'accepted';
  /** A waiting request this one replaced (newest commit wins). */
  supersededWorkflowId?: string;
}
export const enqueueDeployUpdate = defineUpdate<EnqueueResult, [DeployRequest]>('enqueueDeploy');

/** A deploy request and the pipeline id it will run under. */
export interface QueuedDeploy { workflowId: string; request: DeployRequest }
/**
 * A webhook's deploy, handed over by signal-with-start: the server accepts it durably with no
 * worker involved, so the webhook is answered at about the cost of one workflow start. The queue
 * treats it as an enqueue; a lock refuses it into `refused` (the run's status then says why).
 */
export const acceptDeploySignal = defineSignal<[QueuedDeploy]>('acceptDeploy');

/** A deploy the queue refused after accepting it, because the environment was locked. */
export interface RefusedDeploy { workflowId: string; request: DeployRequest; lock: DeployLock }

export interface QueueStatus {
  running?: QueuedDeploy;
  /** An incident runbook or a scale operation running now (absent from queues started before operations). */
  runningOperation?: QueuedOperation;
  /** Operations waiting behind the running deploy or operation, oldest first. */
  operations?: QueuedOperation[];
  /** Present while the app is stopped by `flightdeck stop`: the counts `flightdeck start` restores. */
  stopped?: StoppedFleet;
  waiting?: QueuedDeploy;
  superseded: string[];
  /** Accepted deploys a lock refused, newest last (absent from queues started before it existed). */
  refused?: RefusedDeploy[];
  /** Present while new deploys are refused. */
  lock?: DeployLock;
}
export const queueStatusQuery = defineQuery<QueueStatus>('queueStatus');

// ---------------------------------------------------------------- deploy locks (held by the deploy queue)

/** While present, the queue refuses new deploys; rollbacks still run. */
export interface DeployLock {
  owner: string;
  reason: string;
  /** When the lock was taken (ISO time). */
  since: string;
  /** When it lapses by itself (ISO time); absent: until someone unlocks. */
  expiresAt?: string;
  /** The run that took it, when taken automatically (a rollback). */
  workflowId?: string;
}

export interface LockRequest {
  owner: string;
  reason: string;
  /** A duration such as 2h; absent: until someone unlocks. */
  expiresIn?: string;
  workflowId?: string;
}
/** An existing lock is kept as it is (so a retried or repeated lock is harmless). */
export const lockDeploysUpdate = defineUpdate<{ lock: DeployLock; wasAlreadyLocked: boolean }, [LockRequest]>('lockDeploys');
/** `removed` is absent when nothing was locked; `waitingWorkflowId` is a deploy the unlock lets start. */
export const unlockDeploysUpdate = defineUpdate<{ removed?: DeployLock; waitingWorkflowId?: string }, [{ actor: string }]>('unlockDeploys');
/** The failure type an enqueue carries when refused by a lock; its details hold the DeployLock. */
export const DEPLOY_LOCKED = 'DeployLocked';

// ---------------------------------------------------------------- incident runbook and scaling (run by the deploy queue)

/**
 * What the incident runbook does when restarting every machine did not heal the app: roll back to the
 * last known good release, pause and ask in Slack (roll back or keep), or only report (the health
 * watch's `restart` action).
 */
export type IfStillFailing = 'rollback' | 'pause' | 'report';

export interface IncidentRequest {
  app: string;
  environment: string;
  reason: string;
  /** Absent: the environment's incident.ifStillFailing. */
  ifStillFailing?: IfStillFailing;
  trigger: Trigger;
}

export interface IncidentResult {
  /** restart: the restarts healed it; rollback: a rollback did; none: it is still failing (reported or kept). */
  healedBy: 'restart' | 'rollback' | 'none';
  restartedMachines: string[];
  rolledBackTo?: string;
}

/** stop: scale to zero, remembering the per-region counts; start: bring those counts back; scale: set a count. */
export type ScaleAction = 'stop' | 'start' | 'scale';

export interface ScaleRequest {
  app: string;
  environment: string;
  action: ScaleAction;
  /** scale: the machine count (in `region`, else over the regions the app runs in). */
  count?: number;
  region?: string;
  reason: string;
  trigger: Trigger;
}

export interface ScaleResult {
  /** Machines per region after the run. */
  regions: Record<string, number>;
}

/** An app stopped by Flightdeck, and what it ran before: held by the environment's deploy queue until started. */
export interface StoppedFleet {
  regions: Record<string, number>;
  since: string;
  by: string;
  reason: string;
  /** The stop run. */
  workflowId: string;
}

/** An operation the deploy queue runs between deploys (never during one): its run id, workflow type and request. */
export type QueuedOperation =
  | { workflowId: string; workflowType: 'incidentRunbook'; request: IncidentRequest }
  | { workflowId: string; workflowType: 'scaleApp'; request: ScaleRequest };

/** Queues an operation; a request whose run id is queued or running already gets that run back (`duplicate`). */
export const enqueueOperationUpdate = defineUpdate<EnqueueResult, [QueuedOperation]>('enqueueOperation');
/** The stop run records what it stopped, and locks deploys (an existing lock is kept); an existing record is kept and returned. */
export const recordStopUpdate = defineUpdate<StoppedFleet, [StoppedFleet]>('recordStop');
/** The start run clears the record once the counts are back, and the lock the stop took. */
export const clearStopUpdate = defineUpdate<{ removed?: StoppedFleet }, [{ workflowId: string }]>('clearStop');

/** What an environment's health watch has seen (workflows/healthWatch.ts). */
export interface HealthWatchStatus {
  app: string;
  environment: string;
  consecutiveFailures: number;
  lastProbe?: { at: string; isOk: boolean; detail: string };
  /** The last time the watch acted: when, how, and the incident run it started (if any). */
  lastAction?: { at: string; action: 'alert' | 'restart' | 'restart-then-rollback'; detail: string; workflowId?: string };
}
export const healthWatchQuery = defineQuery<HealthWatchStatus>('healthWatch');

/** Who asks a run to stop, and why. */
export interface CancelRequest {
  actor: string;
  reason: string;
}
/**
 * Sent just before Temporal's own cancellation (lib/operations.ts cancelRun), so that the run can say
 * who cancelled it and why in its status and its Slack message. It stops nothing by itself.
 */
export const cancelReasonSignal = defineSignal<[CancelRequest]>('cancelReason');
/**
 * Before Temporal's cancellation was used: asks a pipeline to stop (it then closes FAILED). No client
 * sends it any more; pipelines keep its handler for older clients and histories that carry it.
 */
export const cancelSignal = defineSignal<[CancelRequest]>('cancel');

// ---------------------------------------------------------------- database migrations

export type MigrationAction = 'status' | 'plan' | 'apply' | 'rollback' | 'force';

export interface MigrateRequest {
  /** The app's name in the config. */
  app: string;
  action: MigrationAction;
  /** Whose database (environments.<name>.database); may be left out when only one environment has one. */
  environment?: string;
  /** Recorded by runs started before per-environment databases; the config decides now. */
  isProduction?: boolean;
  /**
   * Overrides the config's rule (a verified backup first for a database with a `databases:` entry,
   * unless its backupBeforeMigrate is false). Only the CLI's --no-backup sets it.
   */
  backupFirst?: boolean;
  /** Absolute path of the app's checkout; a relative migrations folder is resolved against it. */
  workspace?: string;
  /**
   * apply: stop after this version. rollback: undo down to this version (kept); 0 undoes everything.
   * plan dry-runs apply, or rollback when steps is given or toVersion is below the current version.
   */
  toVersion?: number;
  /** rollback (or plan): how many applied migrations to undo. */
  steps?: number;
  /** force: record this version as applied and clean without running anything (0: none applied). */
  forceVersion?: number;
  /** How long to wait for another migrator to finish, e.g. '2m'. */
  lockTimeout?: string;
  /** The release this schema change ships with, recorded in the history. */
  releaseVersion?: string;
  trigger: Trigger;
}

export interface MigrationRef {
  version: number;
  name: string;
}

export interface MigrationDrift extends MigrationRef {
  /** unapplied: a late-merged migration below the current version that never ran. */
  problem: 'changed' | 'missing' | 'unapplied';
  detail: string;
}

export interface MigrationStatusReport {
  /** The version recorded in schema_migrations; 0 when nothing is applied. */
  currentVersion: number;
  isDirty: boolean;
  applied: MigrationRef[];
  pending: MigrationRef[];
  drift: MigrationDrift[];
  /** When dirty: which migration failed and how to recover. */
  recovery?: string;
}

export interface PlannedMigration extends MigrationRef {
  direction: 'up' | 'down';
  isTransactional: boolean;
  sql: string;
}

export interface MigrateResult {
  app: string;
  action: MigrationAction;
  /** 'command': the app runs its own migration command, so versions are unknown to Flightdeck. */
  mode: 'files' | 'command';
  /** The state after the run (absent in command mode). */
  status?: MigrationStatusReport;
  /** What would run (plan) or ran (apply, rollback), in order. */
  plan: PlannedMigration[];
  appliedVersions: number[];
  rolledBackVersions: number[];
  forcedVersion?: number;
  backupId?: string;
  /** plan: what the migration linter found in what would run (lib/migrationSafety.ts). */
  safety?: MigrationSafetyReport;
  /** With backupId: the `databases:` entry it belongs to, and the Postgres database it is a dump of (to restore it over). */
  backupDatabase?: string;
  pgDatabase?: string;
  summary: string;
}

// ---------------------------------------------------------------- database backups and restores

/** One named check with its result, as shown in RunStatus.checks and in backup manifests. */
export interface CheckResult {
  name: string;
  isPassed: boolean;
  detail: string;
}

export interface BackupRequest {
  /** A name from the config file's `databases`: whose secret, storage series and retention apply. */
  database: string;
  trigger: Trigger;
  /**
   * Another Postgres database on the same server to dump instead of the configured one (a restore's
   * safety backup of the database it is about to overwrite). It gets its own catalog series.
   */
  pgDatabase?: string;
  /** A restore's safety backup: it is catalogued as such and never prunes its series. */
  isSafetyBackup?: boolean;
}

/** The freshness watch of one database (workflows/watchBackupFreshness.ts); the rest is carried by continue-as-new. */
export interface BackupFreshnessWatch {
  database: string;
  /** When watching began: the age of "no verified backup yet". */
  watchingSince?: string;
  /** The channel was told the backups are overdue, and not yet that they recovered. */
  isAlerting?: boolean;
}

export interface BackupResult {
  backupId: string;
  /** False when the dump could not be proven restorable: never rely on such a backup. */
  isVerified: boolean;
  /** Where the dump is stored: a path or s3:// URL. */
  location: string;
  sizeBytes: number;
  sha256: string;
  dumpDurationMs: number;
  throughputBytesPerSecond: number;
  releaseVersion: string;
  checks: CheckResult[];
  /** Backups deleted by retention after this one was recorded. */
  prunedBackupIds: string[];
  /** When the dump's snapshot was taken: writes committed after it are not in this backup. */
  snapshotAt?: string;
}

export interface RestoreRequest {
  /** The configured database whose catalog holds the backup and whose server receives the restore. */
  database: string;
  backupId: string;
  /** A Postgres database name on that server; absent: a new database named after the backup. */
  targetDatabase?: string;
  /** Overwriting an existing database must be asked for explicitly. */
  isOverwriteConfirmed?: boolean;
  /** Overwriting a database with a dump of another one (an allowlisted restoreTargets entry) must be confirmed as such. */
  isCrossDatabaseConfirmed?: boolean;
  /**
   * Recreate the roles the server lacks from the backup's stored globals (pg_dumpall --globals-only)
   * before restoring: a disaster recovery onto a new cluster.
   */
  shouldRestoreGlobals?: boolean;
  trigger: Trigger;
}

export interface RestoreResult {
  targetDatabase: string;
  /** Row counts and schema of the restored database match the backup's source. */
  isVerified: boolean;
  /** Taken just before an existing database was overwritten. */
  safetyBackupId?: string;
  checks: CheckResult[];
  /** The overwritten database, kept under this name (never dropped by Flightdeck). */
  preRestoreDatabase?: string;
  /** Which writes to the overwritten database are not in the safety backup, and where they are. */
  writeLossWindow?: string;
  /** With shouldRestoreGlobals: the roles created, kept (they existed) and failed. */
  roles?: { created: string[]; existing: string[]; failed: string[] };
}
