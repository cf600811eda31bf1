// @ts-check
// `flyctl help` / `--help`: the simulator's command list.
import { COMMANDS } from '../command-table.js';

/** @param {import('../context.js').CommandContext} ctx */
export async function run(ctx) {
  const lines = COMMANDS.flatMap((node) => (node.subcommands ?? [undefined]).map((sub) => `  ${node.name}${sub ? ` ${sub.name}` : ''}`));
  ctx.out(`flyctl (Flightdeck simulator) — see sim/README.md\n\nUsage:\n  flyctl [command]\n\nAvailable Commands:\n${lines.join('\n')}\n`);
}
