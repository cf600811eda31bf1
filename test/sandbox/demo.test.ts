// `npm run demo` end to end: its own Temporal dev server, PostgreSQL, Fly simulator, Slack stand-in,
// worker and API in a temporary state directory, a good deploy, a bad deploy, a rollback by hand and a backup.
import { beforeAll, describe, expect, it } from 'vitest';
import { isProcessRunning } from '../../sim/testing.js';
import { runDemo, type DemoSummary } from '../../scripts/sandbox/demo.js';

const DEMO_TIMEOUT_MS = 300_000;

describe('npm run demo', () => {
  let summary: DemoSummary;
  beforeAll(async () => {
    summary = await runDemo();
  }, DEMO_TIMEOUT_MS);

  it('deploys the good branch, which then serves', () => {
    expect(summary.goodDeploy.status.state).toBe('succeeded');
    expect(summary.goodDeploy.status.stages.filter((s) => s.state === 'failed')).toEqual([]);
    expect(summary.goodDeploy.servedAfter).toContain('v2');
  });

  it('rolls the bad branch back by itself to the good deploy, because its smoke check failed', () => {
    const { status } = summary.badDeploy;
    expect(status.state).toBe('rolled-back');
    expect(status.outcome).toMatch(/smoke checks failed: home \(GET \/: expected HTTP 200, got 500\)/);
    expect(status.facts['rolled back to']).toBe(summary.goodDeploy.status.facts.image);
    expect(summary.badDeploy.servedAfter).toContain('v2');
  });

  it('rolls back by hand after that without ever redeploying the bad image: the good release still serves', () => {
    const { status } = summary.manualRollback;
    expect(status.state).toBe('succeeded');
    expect(status.outcome).toMatch(/already runs .*the last known good release/);
    expect(status.facts.image).toBe(summary.goodDeploy.status.facts.image);
    expect(summary.manualRollback.servedAfter).toContain('v2');
  });

  it('takes a backup of the demo database and proves it restores', () => {
    const { result } = summary.backup;
    expect(result.isVerified).toBe(true);
    expect(result.sizeBytes).toBeGreaterThan(0);
    expect(result.checks.map((c) => c.name)).toContain('row counts');
    expect(result.checks.every((c) => c.isPassed)).toBe(true);
  });

  it('prints a summary of what deployed, what rolled back and why, and the backup', () => {
    expect(summary.text).toContain(`from branch main`);
    expect(summary.text).toMatch(/SUCCEEDED: Deployed registry\.fly\.io\/flightdeck-demo:\S+ as release v\d+/);
    expect(summary.text).toMatch(/ROLLED-BACK: smoke checks failed: home .*Rolled back to/);
    expect(summary.text).toMatch(/KiB, VERIFIED \(restored into a scratch database and compared\)/);
    expect(summary.text).toMatch(/3\. rollback by hand: .*\n {3}SUCCEEDED: .*already runs/);
    expect(summary.slackMessageCount).toBe(4);
  });

  it('leaves no process running once it has finished', () => {
    expect(summary.processIds.length).toBeGreaterThanOrEqual(6);
    expect(summary.processIds.filter((pid) => isProcessRunning(pid))).toEqual([]);
  });
});
