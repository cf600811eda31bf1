// After a command starts a run: return at once (--no-wait) or follow it to its end and report the
// outcome; the exit code says whether the run succeeded.
import type { RunStatus } from '../lib/messages.js';
import type { Session } from './command.js';
import { followRun } from './follow.js';
import { formatOutcome } from './format.js';
import { ExitCode } from './usageError.js';

export interface StartedRun {
  workflowId: string;
  /** Extra facts for the JSON result, e.g. the deploy queue's disposition. */
  facts?: Record<string, unknown>;
  /** After a success: prints what the run produced and returns it for the JSON result. */
  describeResult?: () => Promise<unknown>;
}

export async function reportStartedRun(session: Session, run: StartedRun, shouldWait: boolean): Promise<{ exitCode: number; status?: RunStatus }> {
  const { out } = session;
  if (!shouldWait) {
    out.line(`started ${run.workflowId}`);
    out.line(`follow it with: flightdeck status ${run.workflowId}`);
    out.result({ workflowId: run.workflowId, ...run.facts });
    return { exitCode: ExitCode.ok };
  }
  const status = await followRun(session.client, run.workflowId, out);
  printOutcome(session, status);
  const result = status.state === 'succeeded' && run.describeResult ? { result: await run.describeResult() } : {};
  out.result({ workflowId: run.workflowId, ...run.facts, state: status.state, outcome: status.outcome, status, ...result });
  return { exitCode: status.state === 'succeeded' ? ExitCode.ok : ExitCode.runFailed, status };
}

export function printOutcome({ out }: Session, status: RunStatus): void {
  for (const check of status.checks ?? []) if (!check.isPassed) out.line(`  ✗ ${check.name}: ${check.detail}`);
  out.line(formatOutcome(status));
}
