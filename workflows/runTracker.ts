// Workflow-side bookkeeping shared by every workflow: the `status` query's answer, stage timings,
// and the run's one Slack message, kept up to date by a background loop so that Slack being down
// or rate-limited never fails or stalls the run.
import {
  ActivityFailure, ApplicationFailure, CancellationScope, condition, patched, proxyActivities, sleep, upsertSearchAttributes, workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { rootMessage } from '../lib/errors.js';
import type { RunKind, RunState, RunStatus, StageStatus, Trigger } from '../lib/messages.js';
import { RUN_STATE, runSearchAttributes } from '../lib/runSearchAttributes.js';

/**
 * Patch run-state-search-attribute: the run upserts its search attributes (its identity, then FlightdeckState
 * at each change of state). Taken in the constructor, which every run workflow calls before its first command.
 */
export const RUN_STATE_SEARCH_ATTRIBUTE_PATCH = 'run-state-search-attribute';

/**
 * Patch coalesced-slack-reports: progress within a state (stages starting and finishing) reaches Slack at
 * most once per REPORT_INTERVAL; a new state (waiting for approval, failed…) and the run's end go out at
 * once. Slack allows about one message update a second per channel, and every report's completion wakes
 * the run: a workflow task in the way of the stage it reports on. Taken in the constructor.
 */
export const COALESCED_SLACK_REPORTS_PATCH = 'coalesced-slack-reports';
const REPORT_INTERVAL = '1s';

const slack = proxyActivities<Activities>({
  startToCloseTimeout: '15s',
  // One attempt per call: the reporter loop retries with its own backoff and always sends the newest status.
  retry: { maximumAttempts: 1 },
});

export interface RunIdentity {
  kind: RunKind;
  trigger: Trigger;
  app?: string;
  environment?: string;
  database?: string;
}

export class RunTracker {
  readonly status: RunStatus;
  private channel?: string;
  private runUrl?: string;
  private ts?: string;
  private isDirty = false;
  private isSending = false;
  private readonly threadQueue: string[] = [];
  private readonly isStateSearchable: boolean;
  private readonly isCoalesced: boolean;
  /** A change Slack should see now, not at the next interval: a new state, or the run's final flush. */
  private isUrgent = false;
  private searchableState?: RunState;

  constructor(identity: RunIdentity, stageNames: string[]) {
    this.isStateSearchable = patched(RUN_STATE_SEARCH_ATTRIBUTE_PATCH);
    this.isCoalesced = patched(COALESCED_SLACK_REPORTS_PATCH);
    this.status = {
      ...identity,
      workflowId: workflowInfo().workflowId,
      state: 'running',
      startedAt: new Date().toISOString(),
      stages: stageNames.map((name) => ({ name, state: 'pending' })),
      facts: {},
    };
    this.publishState();
  }

  /** Runs one stage, recording its state and duration; a failure marks the stage and rethrows. */
  async stage<T>(name: string, fn: () => Promise<T>, describe?: (result: T) => string | undefined): Promise<T> {
    const stage = this.find(name);
    stage.state = 'running';
    stage.startedAt = new Date().toISOString();
    this.status.currentStage = name;
    this.changed();
    try {
      const result = await fn();
      this.finish(stage, 'succeeded', describe?.(result));
      return result;
    } catch (err) {
      this.finish(stage, 'failed', rootMessage(err));
      throw err;
    }
  }

  /** A stage only some runs have (decided at run time), placed before another in the checklist. */
  addStage(name: string, before: string): void {
    if (this.status.stages.some((s) => s.name === name)) return;
    const index = this.status.stages.findIndex((s) => s.name === before);
    this.status.stages.splice(index < 0 ? this.status.stages.length : index, 0, { name, state: 'pending' });
    this.changed();
  }

  skip(name: string, detail: string): void {
    this.finish(this.find(name), 'skipped', detail);
  }

  setState(state: RunState, outcome?: string): void {
    this.status.state = state;
    if (outcome !== undefined) this.status.outcome = outcome;
    if (['succeeded', 'failed', 'rolled-back', 'cancelled', 'superseded', 'refused'].includes(state)) {
      this.status.finishedAt = new Date().toISOString();
      this.status.currentStage = undefined;
    }
    this.publishState();
    this.isUrgent = true;
    this.changed();
  }

  fact(key: string, value: string | number | boolean | undefined): void {
    this.status.facts[key] = value;
    this.changed();
  }

  /** Starts reporting to Slack; until then changes are only kept for the status query. */
  reportTo(channel: string, runUrlBase?: string): void {
    if (this.channel) return;
    this.channel = channel;
    this.runUrl = runUrlBase ? `${runUrlBase}${encodeURIComponent(this.status.workflowId)}` : undefined;
    // Shielded from cancellation: a cancelled run must still tell Slack that it was cancelled
    // (and a cancelled wait inside the loop would otherwise end it with an unhandled rejection).
    void CancellationScope.nonCancellable(() => this.reporterLoop());
    this.changed();
  }

  /** A detail for the message's thread (failures, rollback reasons). */
  thread(text: string): void {
    this.threadQueue.push(text);
    this.changed();
  }

  /** Waits (bounded) until Slack has the newest status, so the final message is right when Slack is up. */
  async flush(timeout: string | number = '2m'): Promise<void> {
    if (!this.channel) return;
    this.isUrgent = true;
    await condition(() => !this.isDirty && !this.isSending && this.threadQueue.length === 0, timeout);
  }

  /**
   * FlightdeckState follows the run's state, so listings can ask for runs waiting for approval, failed…
   * The first upsert carries the run's identity too, for a run its starter did not tag.
   */
  private publishState(): void {
    if (!this.isStateSearchable || this.status.state === this.searchableState) return;
    const { kind, app, environment, database, state } = this.status;
    upsertSearchAttributes(this.searchableState === undefined
      ? runSearchAttributes({ kind, app, environment, database, state })
      : [{ key: RUN_STATE, value: state }]);
    this.searchableState = state;
  }

  private changed(): void {
    this.isDirty = true;
  }

  private find(name: string): StageStatus {
    let stage = this.status.stages.find((s) => s.name === name);
    if (!stage) {
      stage = { name, state: 'pending' };
      this.status.stages.push(stage);
    }
    return stage;
  }

  private finish(stage: StageStatus, state: StageStatus['state'], detail?: string): void {
    stage.state = state;
    stage.finishedAt = new Date().toISOString();
    if (stage.startedAt) stage.durationMs = Date.parse(stage.finishedAt) - Date.parse(stage.startedAt);
    if (detail !== undefined) stage.detail = detail;
    this.changed();
  }

  private async reporterLoop(): Promise<void> {
    let backoffMs = 1000;
    for (;;) {
      await condition(() => this.isDirty || this.threadQueue.length > 0);
      if (this.isCoalesced && !this.isUrgent) await condition(() => this.isUrgent, REPORT_INTERVAL);
      this.isUrgent = false;
      this.isDirty = false;
      this.isSending = true;
      try {
        const { ts } = await slack.reportRunStatus({ status: this.status, channel: this.channel!, ts: this.ts, runUrl: this.runUrl });
        this.ts = ts ?? this.ts;
        while (this.threadQueue.length > 0) {
          await slack.postThreadReply({ channel: this.channel!, threadTs: this.ts, text: this.threadQueue[0]! });
          this.threadQueue.shift();
        }
        backoffMs = 1000;
      } catch (err) {
        this.isDirty = true;
        this.isSending = false;
        await sleep(retryDelayMs(err) ?? backoffMs);
        backoffMs = Math.min(backoffMs * 2, 30_000);
      } finally {
        this.isSending = false;
      }
    }
  }
}

/** Honours Slack's Retry-After, carried as the failure's nextRetryDelay. */
function retryDelayMs(err: unknown): number | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : undefined;
  const delay = cause instanceof ApplicationFailure ? cause.nextRetryDelay : undefined;
  if (delay === undefined || delay === null) return undefined;
  if (typeof delay === 'number') return delay;
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(String(delay));
  if (!match) return undefined;
  const unit = match[2] === 'ms' ? 1 : match[2] === 'm' ? 60_000 : 1000;
  return Number(match[1]) * unit;
}
