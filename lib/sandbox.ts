// The sandbox every command from a repository runs in (tests, smoke command, migrate command): code
// that anyone who can push a branch controls, next to a worker that holds the keys to production.
//
// bubblewrap (bwrap) gives it its own PID namespace with a fresh /proc (the worker's environ is not
// even visible), the rest of the filesystem read-only, a private /tmp, tmpfs over Flightdeck's own
// directories (other runs' workspaces, backups, state, the worker's home), and an unprivileged user:
// a root worker runs bwrap privileged and drops to SANDBOX_UID with setpriv; any other worker runs
// bwrap in a user namespace as itself. --die-with-parent ties the sandbox to bwrap's outer process,
// which runCommand kills on timeout or cancel; when the namespace's init dies the kernel kills
// everything in it, so a child that left the session with setsid dies too.
//
// The environment is built from an allowlist (commandEnvironment), never by filtering the worker's.
// Fail closed: when no sandbox can be made, repository commands do not run, unless the operator set
// FLIGHTDECK_UNSANDBOXED_COMMANDS=allow (logged on every command).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { EnvConfig } from './config.js';
import { lastLine, runCommand, type RunOptions, type RunResult } from './process.js';

/** nobody/nogroup: owns nothing of Flightdeck's. */
export const SANDBOX_UID = 65534;
export const SANDBOX_GID = 65534;
const SETPRIV_PATH = '/usr/bin/setpriv';
/** HOME of a command, inside its workspace (removed after the command, so a build never ships it). */
export const SANDBOX_HOME_DIR = '.flightdeck-home';

export interface SandboxSettings {
  /** The bwrap binary (FLIGHTDECK_BWRAP_PATH). */
  bwrapPath: string;
  /** FLIGHTDECK_UNSANDBOXED_COMMANDS=allow: run without a sandbox when none can be made. */
  isUnsandboxedAllowed: boolean;
  /** Directories and files the command must not see: each is covered by an empty tmpfs (or /dev/null). */
  hiddenPaths: string[];
  /** Drop to SANDBOX_UID (the worker runs as root). */
  isRoot: boolean;
}

/** The directories a command must not see, from the worker's configuration. */
export function sandboxSettings(env: EnvConfig, extraHiddenPaths: readonly string[] = []): SandboxSettings {
  const workDir = path.resolve(env.FLIGHTDECK_WORK_DIR);
  const hidden = [
    // Other runs' workspaces, and the data directory around them (backups, sandbox state).
    workDir, path.dirname(workDir),
    path.resolve('data'),
    // Parallel dumps and restores spool the database's data here, in clear.
    path.resolve(env.FLIGHTDECK_BACKUP_SPOOL_DIR),
    // flyctl keeps its tokens in ~/.fly; a non-root worker's sandbox runs as the worker's own user.
    os.homedir(),
    '/run/secrets',
    ...(env.FLIGHTDECK_SANDBOX_HIDE ?? []),
    ...extraHiddenPaths,
  ];
  return {
    bwrapPath: env.FLIGHTDECK_BWRAP_PATH,
    isUnsandboxedAllowed: env.FLIGHTDECK_UNSANDBOXED_COMMANDS === 'allow',
    hiddenPaths: [...new Set(hidden.map((p) => path.resolve(p)))].filter((p) => p !== '/'),
    isRoot: process.getuid?.() === 0,
  };
}

export interface CommandEnvironmentInput {
  workspace: string;
  /** The app's `env` from the apps file. */
  appEnv?: Record<string, string>;
  /** Exactly the secrets this command is given (name → value), e.g. DATABASE_URL for a migrate command. */
  secrets?: Record<string, string | undefined>;
  /** The worker's environment, for PATH and LANG only. */
  workerEnv?: NodeJS.ProcessEnv;
}

/** The whole environment of a repository command: an allowlist, nothing else of the worker's. */
export function commandEnvironment(input: CommandEnvironmentInput): Record<string, string> {
  const workerEnv = input.workerEnv ?? process.env;
  const env: Record<string, string> = {
    PATH: workerEnv.PATH || '/usr/local/bin:/usr/bin:/bin',
    LANG: workerEnv.LANG || 'C.UTF-8',
    ...input.appEnv,
  };
  for (const [name, value] of Object.entries(input.secrets ?? {})) if (value !== undefined) env[name] = value;
  env.HOME = path.join(input.workspace, SANDBOX_HOME_DIR);
  env.CI = 'true';
  return env;
}

export interface SandboxSpec {
  /** The only writable directory, and the command's working directory. */
  workspace: string;
  /** false: no network at all (--unshare-net). */
  hasNetwork: boolean;
}

/** bwrap's arguments for a command; pure, so tests can read what the sandbox is made of. */
export function bwrapArguments(settings: SandboxSettings, spec: SandboxSpec, command: readonly string[]): string[] {
  const workspace = path.resolve(spec.workspace);
  const args = [
    ...(settings.isRoot ? [] : ['--unshare-user']),
    '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try',
    ...(spec.hasNetwork ? [] : ['--unshare-net']),
    '--die-with-parent', '--new-session',
    '--ro-bind', '/', '/',
    '--dev', '/dev',
    '--proc', '/proc',
    '--perms', '1777', '--tmpfs', '/tmp',
  ];
  const emptied = ['/tmp'];
  for (const hidden of settings.hiddenPaths) {
    // /tmp is private already; a hidden path inside the workspace is the command's own.
    if (isWithin(hidden, '/tmp') || isWithin(hidden, workspace)) continue;
    const kind = pathKind(hidden);
    if (kind === 'directory') {
      args.push('--tmpfs', hidden);
      emptied.push(hidden);
    } else if (kind === 'file') {
      args.push('--ro-bind', '/dev/null', hidden);
    }
  }
  // bwrap makes the workspace's parents inside an emptied directory 0700 root: the command's user
  // could not reach its own workspace.
  for (const parent of ancestorsOf(workspace)) {
    if (emptied.some((dir) => parent !== dir && isWithin(parent, dir))) args.push('--perms', '0755', '--dir', parent);
  }
  args.push('--bind', workspace, workspace, '--chdir', workspace);
  const dropPrivileges = settings.isRoot
    ? [SETPRIV_PATH, `--reuid=${SANDBOX_UID}`, `--regid=${SANDBOX_GID}`, '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs', '--']
    : [];
  return [...args, '--', ...dropPrivileges, ...command];
}

/** /a/b/c → /a, /a/b (not / and not the path itself). */
function ancestorsOf(dir: string): string[] {
  const ancestors: string[] = [];
  for (let parent = path.dirname(dir); parent !== path.dirname(parent); parent = path.dirname(parent)) ancestors.unshift(parent);
  return ancestors;
}

function isWithin(child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent.endsWith(path.sep) ? parent : parent + path.sep);
}

function pathKind(p: string): 'directory' | 'file' | undefined {
  try {
    const stat = fs.statSync(p);
    return stat.isDirectory() ? 'directory' : 'file';
  } catch {
    return undefined;
  }
}

export class SandboxUnavailableError extends Error {
  constructor(reason: string) {
    super(`Repository commands run in a bubblewrap sandbox, and none could be made (${reason}). `
      + 'Install bubblewrap (apt-get install bubblewrap) and allow it to create namespaces (as root, or unprivileged user namespaces), '
      + 'or set FLIGHTDECK_UNSANDBOXED_COMMANDS=allow to run them without a sandbox (they can then read every secret of the worker).');
    this.name = 'SandboxUnavailableError';
  }
}

export interface RepositoryCommand extends SandboxSpec {
  command: readonly string[];
  /** Built with commandEnvironment(). */
  env: Record<string, string>;
}

export interface RepositoryCommandOptions extends Pick<RunOptions, 'timeoutMs' | 'signal' | 'onLine' | 'killGraceMs'> {
  /** Told once, before an unsandboxed command runs (the escape hatch is logged). */
  onUnsandboxed?: (message: string) => void;
}

export const UNSANDBOXED_NOTICE = 'running a repository command WITHOUT a sandbox because FLIGHTDECK_UNSANDBOXED_COMMANDS=allow';

/**
 * Runs a command from the repository in the sandbox. Throws SandboxUnavailableError when no sandbox
 * can be made and the escape hatch is not set.
 */
export async function runRepositoryCommand(settings: SandboxSettings, spec: RepositoryCommand, options: RepositoryCommandOptions): Promise<RunResult> {
  const [file, ...args] = spec.command;
  if (!file) throw new Error('the command is empty');
  const workspace = path.resolve(spec.workspace);
  fs.mkdirSync(path.join(workspace, SANDBOX_HOME_DIR), { recursive: true });
  try {
    const problem = await sandboxProblem(settings, spec);
    if (problem === undefined) {
      if (settings.isRoot) chownTree(workspace, SANDBOX_UID, SANDBOX_GID);
      return await runCommand(settings.bwrapPath, bwrapArguments(settings, spec, spec.command), { ...options, cwd: workspace, env: spec.env });
    }
    if (!settings.isUnsandboxedAllowed) throw new SandboxUnavailableError(problem);
    options.onUnsandboxed?.(`${UNSANDBOXED_NOTICE} (no sandbox: ${problem})`);
    options.onLine?.(UNSANDBOXED_NOTICE, 'stderr');
    return await runCommand(file, args, { ...options, cwd: workspace, env: spec.env });
  } finally {
    fs.rmSync(path.join(workspace, SANDBOX_HOME_DIR), { recursive: true, force: true });
  }
}

/** Why no sandbox can be made right now (bwrap missing, or refused to make namespaces), or undefined. */
async function sandboxProblem(settings: SandboxSettings, spec: SandboxSpec): Promise<string | undefined> {
  if (!isExecutable(settings.bwrapPath)) return `${settings.bwrapPath} was not found`;
  if (settings.isRoot && !isExecutable(SETPRIV_PATH)) return `${SETPRIV_PATH} (util-linux) was not found`;
  let probe: RunResult;
  try {
    probe = await runCommand(settings.bwrapPath, bwrapArguments(settings, spec, ['true']), {
      cwd: spec.workspace, env: { PATH: process.env.PATH || '/usr/bin:/bin' }, timeoutMs: 30_000,
    });
  } catch (err) {
    return `${settings.bwrapPath} could not be started: ${(err as Error).message.split('\n')[0]}`;
  }
  if (probe.exitCode === 0) return undefined;
  return `${settings.bwrapPath} failed: ${lastLine(probe.stderr) || `exit ${probe.exitCode ?? probe.signal}`}`;
}

function isExecutable(file: string): boolean {
  const candidates = file.includes('/') ? [file] : (process.env.PATH ?? '').split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, file));
  return candidates.some((candidate) => {
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return fs.statSync(candidate).isFile();
    } catch {
      return false;
    }
  });
}

/** A root worker's checkout belongs to root: the sandbox's user must be able to write it. */
function chownTree(dir: string, uid: number, gid: number): void {
  fs.lchownSync(dir, uid, gid);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) chownTree(full, uid, gid);
    else fs.lchownSync(full, uid, gid);
  }
}
