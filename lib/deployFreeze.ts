// The freeze check at the edge (API, Slack, CLI), before anything starts: a frozen environment
// refuses a deploy with when and why, unless a person on its breakGlass list breaks the glass.
// The pipeline checks again when it starts (lib/freezeWindows.ts), for deploys queued earlier.
import { activeFreeze, describeFreeze, mayBreakGlass, type FreezeWindow } from './freezeWindows.js';

export class DeployFrozenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeployFrozenError';
  }
}

/** An environment's freeze settings (environments.<name>.freezes and .breakGlass). */
interface FreezeConfig { freezes: FreezeWindow[]; breakGlass: string[] }

/**
 * Throws DeployFrozenError when the environment is frozen and the glass is not (or may not be)
 * broken; answers the break-glass line to audit-log when it is, undefined when nothing is frozen.
 */
export function checkFreeze(app: string, environment: string, env: FreezeConfig, breakGlass: { reason: string } | undefined, identity: string | undefined, nowMs: number): string | undefined {
  const freeze = activeFreeze(env.freezes, env.breakGlass, nowMs);
  if (!freeze) return undefined;
  if (!breakGlass) throw new DeployFrozenError(describeFreeze(app, environment, freeze));
  if (!mayBreakGlass(freeze, identity)) {
    throw new DeployFrozenError(`${describeFreeze(app, environment, freeze)} ${identity ?? 'An unauthenticated caller'} is not on that list.`);
  }
  return `through the freeze (${freeze.reason}, until ${freeze.until}): ${breakGlass.reason}`;
}
