// Checking out the commit to deploy into a per-run workspace, and running the app's own commands there.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CancelledFailure } from '@temporalio/common';
import { childProcessEnv, hasCredentials, readSecret, type AppsConfig } from '../lib/config.js';
import { PermanentError, permanentFailure, transientFailure, TransientError, type PermanentErrorType } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { lastLine, runCommand } from '../lib/process.js';
import { commandEnvironment, runRepositoryCommand, SandboxUnavailableError, type SandboxSettings } from '../lib/sandbox.js';
import { commitSha, gitRef } from '../lib/validate.js';
import { interruptedAttempt, withHeartbeat } from './heartbeat.js';

export interface CheckoutInput {
  /** Never with credentials in it: those are named in `credential`. */
  repository: string;
  /** The NAME of the worker variable holding the repository's token or password, and the user name for it. */
  credential?: { secret: string; username: string };
  ref?: string;
  sha?: string;
  /** Unique per run: the workflow id, made path-safe. */
  runKey: string;
}

export interface CommandInput {
  workspace: string;
  command: string[];
  timeoutMs: number;
  /** Names the failure so the workflow can tell tests from smoke commands. */
  failureType: PermanentErrorType;
  label: string;
  /** The app whose apps-file entry gives the command's env, network and secrets (by name). */
  app?: string;
  /** Which of the app's commandSecrets the command gets. */
  kind?: 'test' | 'smoke';
}

/**
 * git's own wording for a remote it could not reach (a reset connection, DNS, a 5xx or 429 from the
 * host, a hung-up transfer): another attempt may well succeed. Anything else (no such repository or
 * ref, authentication) will fail again.
 */
const GIT_TRANSIENT_PATTERNS = [/could not resolve host/i, /connection (reset|refused|timed out)/i, /operation timed out/i,
  /the remote end hung up unexpectedly/i, /early eof/i, /unexpected disconnect/i, /rpc failed/i, /network is unreachable/i,
  /temporary failure in name resolution/i, /failed to connect to/i, /gnutls_handshake|tls connection was non-properly terminated/i,
  /the requested url returned error: (429|5\d\d)/i];

export function isTransientGitFailure(stderr: string): boolean {
  return GIT_TRANSIENT_PATTERNS.some((p) => p.test(stderr));
}

export interface GitDeps {
  workDir: string;
  /** Read on every command: the apps file names directories to hide (local backups). */
  sandbox: () => SandboxSettings;
  loadAppsConfig: () => AppsConfig;
  logger: Logger;
}

export function createGitActivities(deps: GitDeps) {
  async function git(args: string[], cwd: string | undefined, credentialEnv: Record<string, string> = {}, timeoutMs = 300_000): Promise<string> {
    // No credential helper: a token given through GIT_ASKPASS must not be stored anywhere.
    const result = await withHeartbeat('git', (progress) => runCommand('git', ['-c', 'credential.helper=', ...args], {
      cwd, timeoutMs, signal: progress.signal, onLine: progress.report,
      env: childProcessEnv({ GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', ...credentialEnv }),
    }));
    if (result.isCancelled) throw new CancelledFailure(`git ${args[0]} was cancelled`);
    if (result.exitCode !== 0 || result.isTimedOut) {
      const message = `git ${args[0]} failed: ${lastLine(result.stderr) || (result.isTimedOut ? 'timed out' : `exit ${result.exitCode}`)}`;
      // A clone or fetch that lost the network is retried; a missing ref or repository is not.
      if (result.isTimedOut || isTransientGitFailure(result.stderr)) throw transientFailure(TransientError.NetworkError, message);
      throw permanentFailure(PermanentError.CheckoutFailed, message);
    }
    return result.stdout.trim();
  }

  /**
   * A clone has a local branch only for the remote's default branch: any other branch is found as
   * origin/<ref> (a bare `git checkout --detach <branch>` would try to create a tracking branch and fail).
   * Tags and commits resolve as given.
   */
  async function resolveRef(ref: string, workspace: string): Promise<string> {
    const remoteBranch = `refs/remotes/origin/${ref}`;
    const isRemoteBranch = await git(['rev-parse', '--verify', '--quiet', `${remoteBranch}^{commit}`], workspace).then(() => true, () => false);
    return isRemoteBranch ? remoteBranch : ref;
  }

  const activities = {
    /** A fresh clone of the repository at the requested commit; returns the workspace and the exact sha. */
    async checkoutCommit(input: CheckoutInput): Promise<{ workspace: string; sha: string }> {
      const ref = input.ref === undefined ? undefined : gitRef.parse(input.ref);
      const sha = input.sha === undefined ? undefined : commitSha.parse(input.sha);
      const workspace = path.resolve(deps.workDir, input.runKey.replace(/[^A-Za-z0-9._-]/g, '_'));
      // A retried attempt starts over: a half-made clone is worth less than a clean one. (Async: a big
      // tree removed synchronously would stall heartbeats of every activity on this worker.)
      await fs.promises.rm(workspace, { recursive: true, force: true });
      await fs.promises.mkdir(path.dirname(workspace), { recursive: true });
      if (hasCredentials(input.repository)) {
        throw permanentFailure(PermanentError.InvalidInput, 'The repository URL carries credentials: remove them and name the variable holding the token in repositoryCredential: { secret: NAME }.');
      }
      await withAskpass(input.credential, (credentialEnv) => git(['clone', '--quiet', '--no-hardlinks', '--', input.repository, workspace], undefined, credentialEnv));
      const target = sha ?? (ref === undefined ? 'HEAD' : await resolveRef(ref, workspace));
      await git(['checkout', '--quiet', '--detach', target, '--'], workspace);
      return { workspace, sha: await git(['rev-parse', 'HEAD'], workspace) };
    },

    /** Runs an app command (tests, smoke command) in the workspace, sandboxed; a non-zero exit is permanent. */
    async runWorkspaceCommand(input: CommandInput): Promise<{ durationMs: number; lastLine: string }> {
      const app = input.app === undefined ? undefined : deps.loadAppsConfig().apps[input.app];
      const secretNames = input.kind === undefined ? [] : app?.commandSecrets[input.kind] ?? [];
      const env = commandEnvironment({
        workspace: input.workspace,
        appEnv: app?.env,
        secrets: Object.fromEntries(secretNames.map((name) => [name, readSecret(name)])),
      });
      const result = await withHeartbeat(input.label, (progress) => runRepositoryCommand(deps.sandbox(), {
        command: input.command, workspace: input.workspace, hasNetwork: app?.network ?? true, env,
      }, {
        timeoutMs: input.timeoutMs, signal: progress.signal, onLine: progress.report,
        onUnsandboxed: (message) => deps.logger.warn({ app: input.app, command: input.label }, message),
      })).catch((err: unknown) => {
        if (err instanceof SandboxUnavailableError) throw permanentFailure(input.failureType, `${input.label} did not run: ${err.message}`);
        throw err;
      });
      // A worker shutting down kills the command too: that says nothing about the app, so never a verdict.
      if (result.isCancelled) throw interruptedAttempt(input.label);
      const tail = lastLine(result.stderr) || lastLine(result.stdout);
      if (result.isTimedOut) throw permanentFailure(PermanentError.CommandTimedOut, `${input.label} (${input.command.join(' ')}) did not finish within ${Math.round(input.timeoutMs / 1000)}s`);
      if (result.exitCode !== 0) throw permanentFailure(input.failureType, `${input.label} (${input.command.join(' ')}) failed with exit code ${result.exitCode}: ${tail}`);
      return { durationMs: result.durationMs, lastLine: tail };
    },

    async removeWorkspace(workspace: string): Promise<void> {
      // Only ever below our own work dir: a bad argument must not delete anything else.
      const root = path.resolve(deps.workDir);
      if (!path.resolve(workspace).startsWith(root + path.sep)) return;
      await fs.promises.rm(workspace, { recursive: true, force: true });
    },
  };

  return {
    ...activities,

    /**
     * The pipeline's test stage in one activity (one task-queue round trip instead of two, issue 19.2):
     * the checkout, then the tests when the app has a test command. Tests that fail (or cannot run)
     * leave no checkout behind: the run learns of its workspace only when this returns.
     */
    async checkoutAndTest(input: CheckoutInput & { test?: Omit<CommandInput, 'workspace'> }): Promise<{ workspace: string; sha: string }> {
      const { test, ...checkout } = input;
      const result = await activities.checkoutCommit(checkout);
      if (!test) return result;
      try {
        await activities.runWorkspaceCommand({ ...test, workspace: result.workspace });
      } catch (err) {
        await activities.removeWorkspace(result.workspace);
        throw err;
      }
      return result;
    },
  };
}

/** Answers git's user name and password prompts from the environment; it holds no secret itself. */
export const ASKPASS_SCRIPT = `#!/bin/sh
case "$1" in
  Username*) printf '%s\\n' "$FLIGHTDECK_GIT_USERNAME" ;;
  *) printf '%s\\n' "$FLIGHTDECK_GIT_PASSWORD" ;;
esac
`;

/** Runs fn with the environment that gives git the credential through GIT_ASKPASS (none: fn({})). */
async function withAskpass<T>(credential: CheckoutInput['credential'], fn: (env: Record<string, string>) => Promise<T>): Promise<T> {
  if (!credential) return fn({});
  const password = readSecret(credential.secret);
  if (password === undefined) throw permanentFailure(PermanentError.SecretsMissing, `The repository credential ${credential.secret} is not set in the worker's environment.`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flightdeck-askpass-'));
  try {
    const script = path.join(dir, 'askpass.sh');
    fs.writeFileSync(script, ASKPASS_SCRIPT, { mode: 0o700 });
    return await fn({ GIT_ASKPASS: script, FLIGHTDECK_GIT_USERNAME: credential.username, FLIGHTDECK_GIT_PASSWORD: password });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export type GitActivities = ReturnType<typeof createGitActivities>;
