// What the sandbox shows in its terminal: Slack traffic made readable, and only the children's
// output that needs a person's attention.
import { describe, expect, it } from 'vitest';
import { notableLine } from '../../scripts/sandbox/childProcesses.js';
import { formatSlackEvent } from '../../scripts/sandbox/slackPrinter.js';
import { startSlackStandIn, type SlackStandInMessage } from '../../scripts/sandbox/slackStandIn.js';

function message(text: string, threadTs?: string): SlackStandInMessage {
  return { channel: '#deploys', ts: '1700000000.000100', text, threadTs, history: [text] };
}

describe('Slack traffic in the sandbox terminal', () => {
  it('shows a new message in full, without Slack markup', () => {
    const printed = formatSlackEvent({ kind: 'posted', message: message('*deploy demo / staging: in progress*\n<http://ui/run|Open in Temporal>') });
    expect(printed).toBe('slack #deploys new message:\n  │ deploy demo / staging: in progress\n  │ Open in Temporal (http://ui/run)');
  });

  it('shows an update as its headline and only the lines that changed', () => {
    const before = '*deploy demo / staging: in progress*\n✅ preflight\n⏳ test';
    const after = '*deploy demo / staging: ROLLED BACK*\n✅ preflight\n✅ test';
    const printed = formatSlackEvent({ kind: 'updated', message: message(after), previousText: before });
    expect(printed).toBe('slack #deploys updated: deploy demo / staging: ROLLED BACK\n  │ ✅ test');
  });

  it('marks thread replies as such', () => {
    expect(formatSlackEvent({ kind: 'posted', message: message(':x: smoke failed', '1700000000.000100') }))
      .toBe('slack #deploys ↳ thread reply:\n    :x: smoke failed');
  });
});

describe("the children's output in the sandbox terminal", () => {
  it('shows pino warnings and errors with their cause, and hides info lines', () => {
    expect(notableLine(JSON.stringify({ level: 50, msg: 'Slack post failed', err: { message: 'ECONNREFUSED' } }))).toBe('Slack post failed: ECONNREFUSED');
    expect(notableLine(JSON.stringify({ level: 40, msg: 'retrying' }))).toBe('retrying');
    expect(notableLine(JSON.stringify({ level: 30, msg: 'worker running' }))).toBeUndefined();
  });

  it("shows the Temporal SDK's errors and crash lines, and hides its expected warnings and build output", () => {
    expect(notableLine('2026-11-22T12:31:14.245Z [ERROR] Worker failed')).toContain('Worker failed');
    expect(notableLine('TypeError: cannot read properties of undefined')).toContain('TypeError');
    expect(notableLine('2026-11-22T12:32:27.498Z [WARN] Activity failed {')).toBeUndefined();
    expect(notableLine('webpack 5.112.2 compiled successfully in 4061 ms')).toBeUndefined();
    expect(notableLine('   at async Activity.execute (worker.ts:1)')).toBeUndefined();
  });
});

describe('answers to slash commands on the Slack stand-in', () => {
  it('are kept as calls and printed with who sees them', async () => {
    const events: string[] = [];
    const slack = await startSlackStandIn({ onEvent: (event) => events.push(formatSlackEvent(event)) });
    try {
      const responseUrl = `${new URL(slack.apiUrl).origin}/respond/1`;
      const answer = await fetch(responseUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: '*demo / staging*\ndeploys are not locked', response_type: 'ephemeral' }) });
      expect(answer.status).toBe(200);
      expect(slack.calls).toEqual([{ method: 'respond/1', body: { text: '*demo / staging*\ndeploys are not locked', response_type: 'ephemeral' } }]);
      expect(events).toEqual(['slack answer (only to you):\n  │ demo / staging\n  │ deploys are not locked']);
    } finally {
      await slack.close();
    }
  });
});
