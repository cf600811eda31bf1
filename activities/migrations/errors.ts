// Why a migration run stopped, in the migrator's own words. The activities turn each kind into the
// matching permanent failure type (lib/errors.ts); the CLI can print the message as it is.

export type MigrationErrorKind =
  /** The request or the migration files make no sense (missing down file, unknown version …). */
  | 'invalid'
  /** An applied migration's file changed or disappeared. */
  | 'drift'
  /** A non-transactional migration failed part-way earlier: a person must look first. */
  | 'dirty'
  /** Another migrator held the lock for longer than we were willing to wait. */
  | 'lock-timeout'
  /** A migration's SQL (or the migration command) failed. */
  | 'failed';

/** What had happened by the time a run stopped; travels with the failure to the workflow. */
export interface MigrationErrorDetails {
  appliedVersions?: number[];
  rolledBackVersions?: number[];
  failedVersion?: number;
  isDirty?: boolean;
  recovery?: string;
}

export class MigrationError extends Error {
  constructor(readonly kind: MigrationErrorKind, message: string, readonly details: MigrationErrorDetails = {}) {
    super(message);
    this.name = 'MigrationError';
  }
}
