// @ts-check
// `flyctl logs [--no-tail] [--json] [-i MACHINE] [-r REGION]`: JSON output is concatenated
// pretty-printed objects, not NDJSON. Like flyctl, --no-tail keeps polling while there are no
// entries, and without --no-tail it follows the log until interrupted.
import { lookupApp } from '../app-lookup.js';
import { readAppLog, renderLogEntry } from '../app-log.js';
import { renderJson } from '../json-output.js';
import { waitUnlessAbandoned } from '../watchdog.js';

const POLL_INTERVAL_MS = 250;
const NO_TAIL_LINES = 100;

/** @param {import('../context.js').CommandContext} ctx */
export async function run(ctx) {
  const { appName } = lookupApp(ctx);
  const instance = ctx.flags.instance || ctx.flags.machine;
  const matching = () => readAppLog(ctx.dir, appName).filter((line) => (!instance || line.instance === instance) && (!ctx.flags.region || line.region === ctx.flags.region));
  const print = (/** @type {import('../app-log.js').AppLogLine[]} */ lines) => {
    for (const line of lines) ctx.out(ctx.isJson ? renderJson(renderLogEntry(line)) : `${line.timestamp} app[${line.instance}] ${line.region} [${line.level}] ${line.message}\n`);
  };
  let lines = matching();
  while (lines.length === 0) {
    await waitUnlessAbandoned(ctx, POLL_INTERVAL_MS);
    lines = matching();
  }
  if (ctx.flags['no-tail']) return print(lines.slice(-NO_TAIL_LINES));
  print(lines);
  let printed = lines.length;
  for (;;) {
    await waitUnlessAbandoned(ctx, POLL_INTERVAL_MS);
    const all = matching();
    print(all.slice(printed));
    printed = all.length;
  }
}
