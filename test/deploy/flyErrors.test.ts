import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { classifyFlyFailure, deployBudgetMs, finalErrorReport, flyctlEnvironment } from '../../activities/fly.js';
import { isTransientGitFailure } from '../../activities/git.js';
import { isNothingRolledOut, PermanentError } from '../../lib/errors.js';
import type { RunResult } from '../../lib/process.js';

function failed(exitCode: number, stderr: string, stdout = ''): RunResult {
  return { exitCode, signal: undefined, stdout, stderr, isTimedOut: false, isCancelled: false, durationMs: 10 };
}

function classify(exitCode: number, stderr: string, stdout = '', command = 'deploy'): ApplicationFailure {
  const failure = classifyFlyFailure(command, failed(exitCode, stderr, stdout));
  expect(failure).toBeInstanceOf(ApplicationFailure);
  return failure as ApplicationFailure;
}

describe('flyctl failure classification', () => {
  it('takes a failed release_command from the final Error line, over a deploy token\'s auth warning and auth-looking app logs', () => {
    const stderr = [
      '==> Verifying app config', 'Running shop release_command: bin/migrate',
      'Error release_command failed running on machine 148e with exit code 1.',
      'Checking logs: fetching the last 100 lines below:',
      'Warn: not authorized to retrieve app logs (this can happen when using deploy tokens). Use `fly logs -i 148e`',
      'Error: 401 Unauthorized: not authorized to read orders',
      'Error: release command failed - aborting deployment. machine 148e exited with non-zero status of 1', '',
    ].join('\n');
    const failure = classify(1, stderr);
    expect(failure.type).toBe(PermanentError.ReleaseCommandFailed);
    expect(failure.message).toBe('flyctl deploy failed: release command failed - aborting deployment. machine 148e exited with non-zero status of 1');
  });

  it('does not let app log lines after a crash decide (they are in the suggestion, after the Error line)', () => {
    const report = finalErrorReport('Error: smoke checks for 148e failed: the app appears to be crashing\nCheck its logs:\nError: 401 unauthorized\n');
    expect(report).toMatch(/^smoke checks for 148e failed/);
    expect(classify(1, 'Error: smoke checks for 148e failed: the app appears to be crashing\nCheck its logs:\nError: 401 unauthorized\n').type).toBe(PermanentError.DeployCrashLoop);
  });

  it('reads a release_command timeout as flyctl reports it (exit 1, reworded), not from exit 126', () => {
    const failure = classify(1, 'Error: release command failed - aborting deployment. error waiting for release_command machine 148e to finish running: timeout reached waiting for machine\'s state to change\nYour machine never reached the state "destroyed".\n');
    expect(failure.type).toBe(PermanentError.ReleaseCommandFailed);
    expect(failure.message).toMatch(/did not finish within its release_command_timeout/);
  });

  it('does not call every exit 126 of a deploy a release_command failure (Fly\'s state decides later)', () => {
    const failure = classify(126, 'Running shop release_command: bin/migrate\nError: error finding the test command machine 1a exit event: context deadline exceeded\n');
    expect(failure.type).toBe(PermanentError.DeployRolloutFailed);
  });

  it('retries a deadline exceeded (exit 126) of a read as transient', () => {
    const failure = classify(126, 'Error: failed to get app: Post "https://api.fly.io/graphql": context deadline exceeded\n', '', 'status');
    expect(failure.type).toBe('FlyTransient');
    expect(failure.nonRetryable).toBe(false);
  });

  it('treats exit 127 with no Error line as a rollout failure, with the reasons from the ✖ lines on stdout', () => {
    const stdout = '> [1/3] Updating 1a [app]\n✔ [1/3] Machine 1a [app] update succeeded\n✖ [2/3] Machine 2b [app] update failed: timeout reached waiting for health checks to pass for machine 2b\n✖ [3/3] Machine 3c [app] update canceled\n';
    const failure = classify(127, '==> Verifying app config\n', stdout);
    expect(failure.type).toBe(PermanentError.DeployRolloutFailed);
    expect(failure.message).toMatch(/interrupted \(exit 127\): \[2\/3\] Machine 2b \[app\] update failed: timeout reached waiting for health checks/);
    expect(failure.message).not.toContain('3c');
  });

  it('includes the validation details printed on stdout in a configuration error', () => {
    const failure = classify(1, 'Error: App configuration is not valid\n', 'Validating /w/fly.toml\nunsupported deployment strategy \'sideways\'\n\n   ✘invalid app configuration\n');
    expect(failure.type).toBe(PermanentError.FlyConfigInvalid);
    expect(failure.message).toContain("App configuration is not valid: unsupported deployment strategy 'sideways'");
  });
});

describe('flyctl\'s environment', () => {
  it('pins LOG_LEVEL and drops the worker\'s FLY_* variables that change what flyctl does', () => {
    const env = flyctlEnvironment({ PATH: '/bin', HOME: '/home/w', LOG_LEVEL: 'debug', FLY_APP: 'other', FLY_JSON: '1', FLYCTL_STATUSLOGGER_NO_ERROR: '1', DEPLOY_TRIGGER: 'x', HTTPS_PROXY: 'http://proxy:3128', FLY_API_BASE_URL: 'https://api.example' }, { FLY_API_TOKEN: 'token' });
    expect(env).toEqual({ PATH: '/bin', HOME: '/home/w', HTTPS_PROXY: 'http://proxy:3128', FLY_API_BASE_URL: 'https://api.example', FLY_API_TOKEN: 'token', LOG_LEVEL: 'info', NO_COLOR: '1', CI: '1', FLY_NO_UPDATE_CHECK: '1' });
  });
});

describe('a deploy\'s budget (Corrections 6)', () => {
  it('grows with the machines a rolling deploy waits for one after another, and with the release_command timeout', () => {
    const rolling = (machineCount: number) => deployBudgetMs({ strategy: 'rolling', machineCount, waitTimeoutMs: 60_000, releaseCommandTimeoutMs: 300_000 });
    expect(rolling(10) - rolling(5)).toBe(5 * 2 * 60_000 + 5 * 20_000);
    expect(rolling(10)).toBeGreaterThan(300_000 + 10 * 2 * 60_000);
    expect(deployBudgetMs({ strategy: 'immediate', machineCount: 10, waitTimeoutMs: 60_000, releaseCommandTimeoutMs: 300_000 })).toBeLessThan(rolling(10));
  });
});

describe('what nothing rolled out means to the pipeline', () => {
  it('is DeployNothingRolledOut or ReleaseCommandFailed, never a rollout failure', () => {
    expect([PermanentError.DeployNothingRolledOut, PermanentError.ReleaseCommandFailed].every(isNothingRolledOut)).toBe(true);
    expect([PermanentError.DeployHealthTimeout, PermanentError.DeployCrashLoop, PermanentError.DeployRolloutFailed, undefined].some(isNothingRolledOut)).toBe(false);
  });
});

describe('git failures', () => {
  it('retries a clone or fetch that lost the network, not a missing repository', () => {
    expect(isTransientGitFailure('fatal: unable to access \'https://github.com/x/y/\': Could not resolve host: github.com')).toBe(true);
    expect(isTransientGitFailure('error: RPC failed; curl 56 Recv failure: Connection reset by peer\nfatal: early EOF')).toBe(true);
    expect(isTransientGitFailure('fatal: unable to access \'https://github.com/x/y/\': The requested URL returned error: 503')).toBe(true);
    expect(isTransientGitFailure('fatal: repository \'https://github.com/x/nope/\' not found')).toBe(false);
    expect(isTransientGitFailure('fatal: Remote branch nope not found in upstream origin')).toBe(false);
  });
});
