// Help texts: the command list, and each command's usage and details.
import type { Command } from './command.js';
import { COMMANDS } from './commands/index.js';

export const COMMON_OPTIONS_HELP = `Options for every command:
  --json          print one JSON object with the result, and nothing else, on stdout
  --no-wait       return as soon as the run has started (deploy, rollback, backup, restore, migrate)
  --actor NAME    who is acting, recorded with the run (default: the local user name)
  -h, --help      this command's help`;

export function generalHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `flightdeck: deploys, rollbacks, backups and migrations of Fly.io apps, run by Temporal

Usage: flightdeck <command> [arguments] [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}
  ${'help'.padEnd(width)}  flightdeck help <command> shows a command's arguments and examples

${COMMON_OPTIONS_HELP}

Connects to Temporal and reads the apps config as the worker does: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
TEMPORAL_TASK_QUEUE, TEMPORAL_TLS / TEMPORAL_TLS_CERT_PATH / TEMPORAL_TLS_KEY_PATH / TEMPORAL_API_KEY,
FLIGHTDECK_CONFIG (default flightdeck.yaml).

Exit codes: 0 done (the run succeeded), 1 the run failed or was refused, 2 a usage error (nothing started).`;
}

export function commandHelp(command: Command): string {
  return `Usage: ${command.usage}

${command.summary[0]!.toUpperCase()}${command.summary.slice(1)}.

${command.details}

${COMMON_OPTIONS_HELP}`;
}
