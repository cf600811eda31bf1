// The production worker (worker/main.ts) for the benchmarks, in a process of its own and built as
// `npm run build` builds it (tsc, then the prebuilt workflow bundle beside it), so what a benchmark
// reports as the worker's memory and start time is that process's, not the harness's that drives it.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Inside the project, so the compiled code's imports resolve from its node_modules. */
const BUILD_DIR = path.join(ROOT, 'node_modules', '.cache', 'flightdeck-bench', 'build');

export interface BuiltWorker {
  /** The worker's entry point: <build>/worker/main.js. */
  script: string;
  /** The prebuilt workflow bundle the worker loads (<build>/workflow-bundle.js). */
  bundle: string;
}

/** Compiles the project from its sources now (tsc, about 20 s on 2 cores) and bundles its workflows. */
export function buildWorker(): BuiltWorker {
  fs.rmSync(BUILD_DIR, { recursive: true, force: true });
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', BUILD_DIR], { cwd: ROOT, stdio: 'inherit' });
  execFileSync(process.execPath, [path.join(BUILD_DIR, 'worker', 'bundleWorkflows.js')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  return { script: path.join(BUILD_DIR, 'worker', 'main.js'), bundle: path.join(BUILD_DIR, 'workflow-bundle.js') };
}

export interface WorkerProcess {
  pid: number;
  /** From spawning the process to its "worker running" log line (polling every queue). */
  readyAfterMs: number;
  /** Its command launcher's pid (lib/launcher/), found among its children; undefined if none runs. */
  launcherPid(): number | undefined;
  /** SIGTERM (a graceful shutdown), then waits for the process to exit. */
  stop(): Promise<void>;
  outputTail(): string;
}

/**
 * The process settings the production image gives the worker (the Dockerfile's ENV), read from the
 * Dockerfile so the benchmarks measure the worker as it is shipped: glibc's malloc arenas.
 */
export function imageProcessEnv(): Record<string, string> {
  const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const arenas = /^\s*MALLOC_ARENA_MAX=(\d+)/m.exec(dockerfile)?.[1];
  return arenas ? { MALLOC_ARENA_MAX: arenas } : {};
}

/**
 * Starts the worker with the image's process settings (a variable set in this process's environment
 * wins, to compare) and the environment given, and resolves once it polls.
 */
export async function startWorkerProcess(worker: BuiltWorker, env: Record<string, string>): Promise<WorkerProcess> {
  const startedAt = performance.now();
  const child = spawn(process.execPath, [worker.script], { cwd: ROOT, env: { ...imageProcessEnv(), ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const readyAfterMs = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
      if (output.includes('worker running')) resolve(performance.now() - startedAt);
    });
    child.stderr.on('data', (chunk: Buffer) => { output = (output + chunk.toString()).slice(-20_000); });
    void exited.then(() => reject(new Error(`the worker exited before polling: ${output.slice(-2000)}`)));
  });
  return {
    pid: child.pid!,
    readyAfterMs,
    launcherPid: () => childrenOf(child.pid!).find((pid) => commandLine(pid).includes(LAUNCHER_SCRIPT)),
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
    outputTail: () => output.slice(-3000),
  };
}

/** The pids whose parent is pid, from /proc. */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  try {
    for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
      const listed = fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      if (listed) children.push(...listed.split(' ').map(Number));
    }
  } catch {
    // The process (or one of its threads) is gone.
  }
  return children;
}

const LAUNCHER_SCRIPT = path.join('launcher', 'server.js');

function commandLine(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

/**
 * A process's resident memory from /proc (0 once it is gone): all of it (VmRSS), or its anonymous part
 * (RssAnon: heaps and malloc'd memory, without mapped code and files).
 */
export function residentBytes(pid: number, kind: 'VmRSS' | 'RssAnon' = 'VmRSS'): number {
  try {
    // A line like "VmRSS:     123456 kB".
    const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${kind}:`));
    return line ? Number.parseInt(line.slice(kind.length + 1), 10) * 1024 : 0;
  } catch {
    return 0;
  }
}
