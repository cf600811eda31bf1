// The workflow code every test worker runs, bundled once per test run (test/globalSetup.ts) instead
// of once per test file: bundling costs seconds of CPU, and the suite has dozens of files. Likewise
// the worker-process entry point and the CLI, compiled once to plain JavaScript.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import esbuild from 'esbuild';
import { workflowInterceptorModules } from '@temporalio/testing';

/** Flightdeck's workflows, as the worker bundles them (worker/workflowsPath.ts). */
export const FLIGHTDECK_WORKFLOWS = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

export interface RunBundles {
  /** For in-process test workers: with the test kit's interceptors (a failed workflow assertion fails the run). */
  withTestInterceptors: string;
  /** For worker processes: exactly what the production worker runs. */
  plain: string;
}

/** Bundles Flightdeck's workflows both ways into dir; the paths go to test files via provide(). */
export async function bundleForRun(dir: string): Promise<RunBundles> {
  const logger = new DefaultLogger('WARN');
  const withTest = await bundleWorkflowCode({ workflowsPath: FLIGHTDECK_WORKFLOWS, workflowInterceptorModules, logger });
  const plain = await bundleWorkflowCode({ workflowsPath: FLIGHTDECK_WORKFLOWS, logger });
  const bundles = { withTestInterceptors: path.join(dir, 'workflows-test.js'), plain: path.join(dir, 'workflows.js') };
  fs.writeFileSync(bundles.withTestInterceptors, withTest.code);
  fs.writeFileSync(bundles.plain, plain.code);
  return bundles;
}

/** Inside the project, so the compiled scripts' imports resolve from its node_modules. */
const RUN_SCRIPTS_CACHE = fileURLToPath(new URL('../../node_modules/.cache/flightdeck-tests', import.meta.url));

/** What the run starts as processes, compiled once: the tests' worker process and the `flightdeck` CLI. */
export interface RunScripts {
  workerProcess: string;
  cli: string;
  remove(): void;
}

/**
 * Compiles the worker-process entry (test/fixtures/workerProcess.ts) and the command line
 * (cli/main.ts), each with the Flightdeck code it imports, into one JavaScript file, packages left
 * as imports. Started through tsx instead, every process would compile and resolve the project's
 * TypeScript on start: about 4 s of CPU for a worker process against about 1.7 s.
 */
export async function compileRunScripts(): Promise<RunScripts> {
  fs.mkdirSync(RUN_SCRIPTS_CACHE, { recursive: true });
  const dir = fs.mkdtempSync(path.join(RUN_SCRIPTS_CACHE, 'run-'));
  const entries = {
    workerProcess: fileURLToPath(new URL('../fixtures/workerProcess.ts', import.meta.url)),
    cli: fileURLToPath(new URL('../../cli/main.ts', import.meta.url)),
  };
  const compile = async (entry: string, name: string) => {
    const script = path.join(dir, `${name}.mjs`);
    await esbuild.build({
      entryPoints: [entry], outfile: script, bundle: true, packages: 'external',
      platform: 'node', format: 'esm', target: `node${process.versions.node.split('.')[0]}`, logLevel: 'error',
    });
    return script;
  };
  const [workerProcess, cli] = await Promise.all([compile(entries.workerProcess, 'workerProcess'), compile(entries.cli, 'flightdeck')]);
  return { workerProcess, cli, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
