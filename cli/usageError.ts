// A command line that cannot be run as typed: exit code 2, nothing started.
export class UsageError extends Error {
  constructor(message: string, readonly helpFor?: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Process exit codes: scripts tell a refused command line from a run that failed. */
export const ExitCode = { ok: 0, runFailed: 1, usage: 2 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
