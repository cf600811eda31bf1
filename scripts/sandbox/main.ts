// `npm start`: the sandbox in one terminal. Everything runs on this machine with state in ./data;
// Ctrl-C stops it all, and the next `npm start` resumes with the same state.
import path from 'node:path';
import { assertPortsFree, DEFAULT_SANDBOX_PORTS } from './ports.js';
import { REPO_ROOT, startSandbox, type Sandbox } from './sandbox.js';
import { formatSlackEvent } from './slackPrinter.js';
import { apiDeployCommand, SLASH_COMMAND_EXAMPLE, tryItCommands } from './tryItCommands.js';

const STATE_DIR = path.join(REPO_ROOT, 'data');
const SAME_PRESS_MS = 1000;

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

function banner(sandbox: Sandbox): string {
  const rel = (file: string) => path.relative(process.cwd(), file) || '.';
  const lines = [
    '',
    'Flightdeck sandbox is running.',
    '',
    `  Temporal UI      ${sandbox.temporal.uiUrl ?? '(none)'}   (every workflow run, its history and its status)`,
    `  Temporal server  ${sandbox.temporal.address}`,
    `  Flightdeck API   ${sandbox.apiUrl}`,
    `  demo app         ${sandbox.appUrl}   (the simulated Fly app, 2 machines)`,
    `  Slack stand-in   ${sandbox.slack.apiUrl}   (messages are printed here)`,
    `  config           ${rel(sandbox.paths.config)}   logs ${rel(sandbox.paths.logs)}/   backups ${rel(sandbox.paths.backups)}/`,
    '',
  ];
  lines.push('Try it, in another terminal in this directory:', '');
  tryItCommands({ repoRoot: REPO_ROOT, configFile: sandbox.paths.config, temporalAddress: sandbox.temporal.address })
    .forEach((item, i) => lines.push(`  ${i + 1}. ${item.title}`, `     ${item.command}`, ''));
  lines.push(`  ${sandbox.appUrl}/ tells which version serves; the Temporal UI shows every run and its history.`);
  lines.push('', '  The same deploy through the HTTP API (the token is in data/sandbox-secrets.json):', `     ${apiDeployCommand(sandbox.apiUrl, sandbox.secrets.apiToken)}`);
  lines.push('', '  Or from "Slack" (a signed /flightdeck command; the answer is printed here):', `     ${SLASH_COMMAND_EXAMPLE}`);
  lines.push('');
  lines.push('Ctrl-C stops everything; `npm start` again resumes with the same state (rm -rf data/ to start over).', '');
  return lines.join('\n');
}

async function main(): Promise<void> {
  await assertPortsFree(DEFAULT_SANDBOX_PORTS);
  let isStopping = false;
  // Set once started; a signal before that exits at once.
  const running: { sandbox?: Sandbox } = {};
  const shutdown = async (reason: string, exitCode: number) => {
    if (isStopping) return;
    isStopping = true;
    say(`\n${reason}: stopping the API, the worker, the demo app, Temporal and PostgreSQL…`);
    await running.sandbox?.stop();
    say('stopped.');
    process.exit(exitCode);
  };
  let firstSignalAt: number | undefined;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      // npm forwards the terminal's SIGINT, so one Ctrl-C arrives twice: signals within a second are one press.
      const isRepeatedPress = firstSignalAt !== undefined && Date.now() - firstSignalAt > SAME_PRESS_MS;
      firstSignalAt ??= Date.now();
      // A second Ctrl-C, or one during start, does not wait: the sandbox's exit handler stops every child.
      if (isRepeatedPress || !running.sandbox) process.exit(130);
      void shutdown(signal, 0);
    });
  }

  const sandbox = await startSandbox({
    stateDir: STATE_DIR,
    ports: DEFAULT_SANDBOX_PORTS,
    onNotice: (line) => say(`· ${line}`),
    onSlackEvent: (event) => say(formatSlackEvent(event)),
  });
  running.sandbox = sandbox;
  say(banner(sandbox));
  void sandbox.unexpectedExit.then((what) => shutdown(what, 1));
}

main().catch((err) => {
  console.error(`\n${(err as Error).message}`);
  process.exit(1);
});
