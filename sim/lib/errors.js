// @ts-check
// Error types of the simulated flyctl and the exit codes real flyctl maps them to
// (internal/cli/cli.go: 0 ok, 1 error, 126 deadline exceeded, 127 interrupted).

export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_DEADLINE_EXCEEDED = 126;
export const EXIT_INTERRUPTED = 127;

/** An error flyctl prints as `Error: <message>`, optionally followed by a description and a suggestion. */
export class FlyError extends Error {
  /**
   * @param {string} message
   * @param {{ exitCode?: number, description?: string, suggestion?: string }} [options]
   */
  constructor(message, options = {}) {
    super(message);
    this.name = 'FlyError';
    this.exitCode = options.exitCode ?? EXIT_ERROR;
    this.description = options.description ?? '';
    this.suggestion = options.suggestion ?? '';
  }
}

/** Raised when SIGINT/SIGTERM aborted the command: flyctl prints nothing and exits 127. */
export class Interrupted extends Error {
  constructor() {
    super('interrupted');
    this.name = 'Interrupted';
  }
}

/** @param {unknown} err */
export function isInterrupted(err) {
  return err instanceof Interrupted || (err instanceof Error && err.name === 'AbortError');
}

/**
 * A rolling update that cancels its sibling pool on the first error and joins every error: with
 * ≥2 process groups, or ≥3 machines where a non-first one fails, context.Canceled wins, so flyctl
 * exits 127 and prints no `Error:` line (machines_deploymachinesapp.go; cli.go). The release ends
 * `interrupted`; the `✖ … update failed` lines on stdout are all that says why.
 */
export class SilentCancel extends Error {
  /** @param {Error} cause the machine's own failure */
  constructor(cause) {
    super(cause.message);
    this.name = 'SilentCancel';
    this.cause = cause;
  }
}
