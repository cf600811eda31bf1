// How follow and status word a step between two attempts, and what of its error they show.
import { describe, expect, it } from 'vitest';
import { describeActivityRetry, summarizeActivityError, type ActivityRetry } from '../../lib/activityRetries.js';

const now = Date.parse('2026-12-01T12:00:00Z');
const retry: ActivityRetry = {
  workflowId: 'deploy/shop/production/abc', activityId: '7', activityType: 'flyDeployImage', failedAttempt: 3, maximumAttempts: 4,
  error: 'flyctl deploy failed: 429 Too Many Requests', isNextAttemptRunning: false, nextAttemptAt: '2026-12-01T12:00:11.200Z',
};

describe('a step between two attempts', () => {
  it('says which attempt failed, why, and in how many seconds (rounded up) the next one starts', () => {
    expect(describeActivityRetry(retry, 'deploy', now)).toBe('deploy: attempt 3 failed: flyctl deploy failed: 429 Too Many Requests; retrying in 12 s (attempt 4 of 4)');
  });

  it('says the retry is due once its backoff is over, and running once a worker took it', () => {
    expect(describeActivityRetry({ ...retry, nextAttemptAt: '2026-12-01T11:59:59Z' }, 'deploy', now)).toMatch(/; retrying now \(attempt 4 of 4\)$/);
    expect(describeActivityRetry({ ...retry, isNextAttemptRunning: true, nextAttemptAt: undefined }, 'deploy', now)).toMatch(/; attempt 4 of 4 running$/);
  });

  it('names the activity when no stage is running, and counts no maximum when retries are unlimited', () => {
    expect(describeActivityRetry({ ...retry, maximumAttempts: 0 }, undefined, now)).toMatch(/^flyDeployImage: attempt 3 failed: .*\(attempt 4\)$/);
  });

  it('shows the first line of an error, redacted, without terminal control characters, and cut when long', () => {
    const error = summarizeActivityError(`\n\u001b[31mError: connection reset by peer\u001b[0m Authorization: Bearer abcdef123456 ${'word '.repeat(80)}\nsecond line`);
    expect(error).toMatch(/^Error: connection reset by peer Authorization: Bearer \[REDACTED\] word word/);
    expect(error).not.toContain('\u001b');
    expect(error).not.toContain('second line');
    expect(error).not.toContain('abcdef123456');
    expect(error.length).toBeLessThan(260);
  });
});
