// @ts-check
// `flyctl version [--json]`: the flyctl release the simulator follows (sim/README.md).
import { SIMULATED_FLYCTL_VERSION } from '../flyctl-version.js';
import { renderJsonLine } from '../json-output.js';

/** @param {import('../context.js').CommandContext} ctx */
export async function run(ctx) {
  const info = {
    Name: 'flyctl',
    Version: SIMULATED_FLYCTL_VERSION,
    Commit: 'ad0172fac',
    BranchName: '',
    BuildDate: '2026-08-21T00:00:00Z',
    OS: 'linux',
    Architecture: 'amd64',
    Environment: 'production',
  };
  if (ctx.isJson) return ctx.out(renderJsonLine(info));
  ctx.out(`flyctl v${info.Version} ${info.OS}/${info.Architecture} Commit: ${info.Commit} BuildDate: ${info.BuildDate}\n`);
}
