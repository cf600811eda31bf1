import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { classifyFlyFailure } from '../../activities/fly.js';
import { PermanentError } from '../../lib/errors.js';
import type { RunResult } from '../../lib/process.js';

function failed(exitCode: number, stderr: string): RunResult {
  return { exitCode, signal: undefined, stdout: '', stderr, isTimedOut: false, isCancelled: false, durationMs: 10 };
}

function classify(exitCode: number, stderr: string): ApplicationFailure {
  const failure = classifyFlyFailure('deploy', failed(exitCode, stderr));
  expect(failure).toBeInstanceOf(ApplicationFailure);
  return failure as ApplicationFailure;
}

describe('flyctl failure classification', () => {
  it('treats exit 126 from a release_command that outlived its timeout as a failed release_command, not a health timeout', () => {
    const failure = classify(126, 'Running shop release_command: bin/migrate\nError: release command failed - aborting deployment. error waiting for release_command machine 148e to finish running: context deadline exceeded\n');
    expect(failure.type).toBe(PermanentError.ReleaseCommandFailed);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toMatch(/did not finish within its release_command_timeout/);
  });

  it('treats a health timeout (exit 1, as flyctl flattens it) as a health timeout', () => {
    const failure = classify(1, 'Error: timeout reached waiting for health checks to pass for machine 148e: context deadline exceeded\n');
    expect(failure.type).toBe(PermanentError.DeployHealthTimeout);
    expect(failure.nonRetryable).toBe(true);
  });

  it('retries any other deadline exceeded (exit 126) as transient', () => {
    const failure = classifyFlyFailure('status', failed(126, 'Error: failed to get app: Post "https://api.fly.io/graphql": context deadline exceeded\n')) as ApplicationFailure;
    expect(failure.type).toBe('FlyTransient');
    expect(failure.nonRetryable).toBe(false);
  });
});
