// Runs the real `flightdeck` command line (cli/main.ts, compiled once for the run by test/globalSetup.ts)
// as a subprocess against the test run's Temporal server, with an apps config file written from the
// test's apps.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, inject } from 'vitest';


export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface CliRunner {
  /** Runs flightdeck with args; taskQueue is the worker's, temporalAddress and temporalNamespace override the test server's. */
  run(args: string[], options: { taskQueue?: string; temporalAddress?: string; temporalNamespace?: string }): Promise<CliResult>;
}

/** Call at the top level of a test file; config() gives the apps config the command line reads. */
export function useFlightdeckCli(config: () => Record<string, unknown>): CliRunner {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flightdeck-cli-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  let runs = 0;
  return {
    async run(args, options) {
      const configFile = path.join(dir, `flightdeck-${++runs}.json`);
      fs.writeFileSync(configFile, JSON.stringify(config()));
      const result = await execa(process.execPath, [inject('cliScript'), ...args], {
        cwd: dir,
        reject: false,
        extendEnv: false,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          TEMPORAL_ADDRESS: options.temporalAddress ?? inject('temporalAddress'),
          TEMPORAL_NAMESPACE: options.temporalNamespace ?? inject('temporalNamespace'),
          TEMPORAL_TASK_QUEUE: options.taskQueue ?? 'no-worker',
          FLIGHTDECK_CONFIG: configFile,
        },
      });
      return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
    },
  };
}
