// One error model for activities: transient failures retry with backoff, permanent ones stop at once.
// Workflows decide by the failure's `type`, so every permanent cause has a name here.
import { ApplicationFailure } from '@temporalio/common';

export const PermanentError = {
  InvalidInput: 'InvalidInput',
  ConfigInvalid: 'ConfigInvalid',
  FlyAuthMissing: 'FlyAuthMissing',
  FlyAuthRejected: 'FlyAuthRejected',
  FlyAppNotFound: 'FlyAppNotFound',
  FlyConfigInvalid: 'FlyConfigInvalid',
  FlyCommandFailed: 'FlyCommandFailed',
  ReleaseCommandFailed: 'ReleaseCommandFailed',
  /** A deploy failed before any machine changed (image fetch, config): nothing to roll back. */
  DeployNothingRolledOut: 'DeployNothingRolledOut',
  DeployHealthTimeout: 'DeployHealthTimeout',
  DeployCrashLoop: 'DeployCrashLoop',
  /** A rollout that failed after machines changed, for a reason other than health or a crash loop. */
  DeployRolloutFailed: 'DeployRolloutFailed',
  HealthCheckFailed: 'HealthCheckFailed',
  SmokeCheckFailed: 'SmokeCheckFailed',
  /** The bake's metric or log analysis failed its intervals (lib/bakeAnalysis.ts). */
  BakeAnalysisFailed: 'BakeAnalysisFailed',
  SecretsMissing: 'SecretsMissing',
  TestsFailed: 'TestsFailed',
  BuildFailed: 'BuildFailed',
  CheckoutFailed: 'CheckoutFailed',
  CommandTimedOut: 'CommandTimedOut',
  DatabaseUnreachable: 'DatabaseUnreachable',
  NoRollbackTarget: 'NoRollbackTarget',
  /** A rollback to an image whose newest verdict is failed, asked for without --force. */
  RollbackTargetFailed: 'RollbackTargetFailed',
  MigrationFailed: 'MigrationFailed',
  MigrationDrift: 'MigrationDrift',
  MigrationDirty: 'MigrationDirty',
  MigrationLockTimeout: 'MigrationLockTimeout',
  /** The environment's migrationSafety policy blocks a pending migration's finding; nothing changed. */
  MigrationSafetyBlocked: 'MigrationSafetyBlocked',
  BackupChecksumMismatch: 'BackupChecksumMismatch',
  BackupVerificationFailed: 'BackupVerificationFailed',
  /** pg_dump failed in a way another attempt cannot fix (version mismatch, missing privileges). */
  BackupDumpFailed: 'BackupDumpFailed',
  /** pg_restore could not restore a backup into its target database. */
  BackupRestoreFailed: 'BackupRestoreFailed',
  /** A backup run failed for a cause that carried no type of its own. */
  BackupFailed: 'BackupFailed',
  /** A restore run failed for a cause that carried no type of its own. */
  RestoreFailed: 'RestoreFailed',
} as const;
export type PermanentErrorType = (typeof PermanentError)[keyof typeof PermanentError];

export const TransientError = {
  FlyTransient: 'FlyTransient',
  NetworkError: 'NetworkError',
} as const;
export type TransientErrorType = (typeof TransientError)[keyof typeof TransientError];

/**
 * Failure types of a deploy that changed no machine: stop, do not roll back. A failed release_command
 * keeps its own type and means the same (it runs before any machine is touched). Pure: workflow-safe.
 */
export const NOTHING_ROLLED_OUT_TYPES: readonly string[] = [PermanentError.DeployNothingRolledOut, PermanentError.ReleaseCommandFailed];

export function isNothingRolledOut(type: string | undefined): boolean {
  return type !== undefined && NOTHING_ROLLED_OUT_TYPES.includes(type);
}

/** Fails the activity without retries; the workflow sees `type` on the failure's cause. */
export function permanentFailure(type: PermanentErrorType, message: string, details?: unknown): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true, details: details === undefined ? undefined : [details] });
}

/** Fails the activity attempt; Temporal retries it per the activity's retry policy. */
export function transientFailure(type: TransientErrorType, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: false });
}

/** An error and its causes, outermost first (WorkflowFailedError → ActivityFailure → ApplicationFailure). */
function* causeChain(err: unknown): Generator<unknown> {
  let current: unknown = err;
  for (let depth = 0; current && depth < 5; depth++) {
    yield current;
    current = (current as { cause?: unknown }).cause;
  }
}

/** The failure type carried by an error, looking through ActivityFailure / ChildWorkflowFailure causes. */
export function failureType(err: unknown): string | undefined {
  for (const current of causeChain(err)) if (current instanceof ApplicationFailure && current.type) return current.type;
  return undefined;
}

/** The details an activity attached to its failure (permanentFailure's `details`), wherever it is in the chain. */
export function failureDetails<T>(err: unknown): T | undefined {
  for (const current of causeChain(err)) if (current instanceof ApplicationFailure && current.details?.length) return current.details[0] as T;
  return undefined;
}

/** The innermost human-readable message of a failure chain. */
export function rootMessage(err: unknown): string {
  let message = err instanceof Error ? err.message : String(err);
  for (const current of causeChain(err)) if (current instanceof Error && current.message) message = current.message;
  return message;
}
