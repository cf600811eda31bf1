// The same new first command as incompatibleWorkflows.ts, gated the house way (docs/operations.md,
// "Upgrading Flightdeck"): patched() once at the start, into a const. A history recorded before the
// change has no marker, so patched() is false on replay and the run follows the released path.
import { patched, sleep } from '@temporalio/workflow';
import type { DeployRequest } from '../../lib/messages.js';
import { deployPipeline as releasedDeployPipeline, type DeployResult } from '../../workflows/deployPipeline.js';

export async function deployPipeline(request: DeployRequest): Promise<DeployResult> {
  const hasWarmUp = patched('replay-test-warm-up');
  if (hasWarmUp) await sleep('1s');
  return releasedDeployPipeline(request);
}
