// A DELIBERATELY INCOMPATIBLE deployPipeline, bundled only by test/replay/replay.test.ts to prove the
// replay suite catches what it is there to catch: a new first command (a timer) added without a
// patch. A released history starts by scheduling the resolveDeployTarget activity; this code starts
// a timer, so replaying must fail with a DeterminismViolationError.
import { sleep } from '@temporalio/workflow';
import type { DeployRequest } from '../../lib/messages.js';
import { deployPipeline as releasedDeployPipeline, type DeployResult } from '../../workflows/deployPipeline.js';

export async function deployPipeline(request: DeployRequest): Promise<DeployResult> {
  await sleep('1s');
  return releasedDeployPipeline(request);
}
