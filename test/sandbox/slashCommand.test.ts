// The sandbox's stand-in for typing /flightdeck in Slack signs its requests the way the API checks them.
import { describe, expect, it } from 'vitest';
import { verifyTimestampedSignature } from '../../api/signatures.js';
import { SANDBOX_SLACK_USER, signedSlashCommand } from '../../scripts/sandbox/slashCommand.js';

describe('the sandbox slash command', () => {
  it('is signed so that the API accepts it, with the text and response_url Slack would send', () => {
    const now = 1_790_000_000;
    const { body, headers } = signedSlashCommand('status demo staging', 'sandbox-signing-secret', 'http://127.0.0.1:8091/respond/1', now);
    const verdict = verifyTimestampedSignature({
      rawBody: Buffer.from(body), timestamp: headers['x-slack-request-timestamp'], signature: headers['x-slack-signature'], secret: 'sandbox-signing-secret', nowMs: now * 1000,
    });
    expect(verdict).toEqual({ isValid: true });
    const form = new URLSearchParams(body);
    expect([form.get('command'), form.get('text'), form.get('user_id'), form.get('response_url')])
      .toEqual(['/flightdeck', 'status demo staging', SANDBOX_SLACK_USER, 'http://127.0.0.1:8091/respond/1']);
  });

  it('is refused by the API under another signing secret', () => {
    const now = 1_790_000_000;
    const { body, headers } = signedSlashCommand('status demo staging', 'sandbox-signing-secret', 'http://127.0.0.1:8091/respond/1', now);
    const verdict = verifyTimestampedSignature({
      rawBody: Buffer.from(body), timestamp: headers['x-slack-request-timestamp'], signature: headers['x-slack-signature'], secret: 'another-secret', nowMs: now * 1000,
    });
    expect(verdict.isValid).toBe(false);
  });
});
