import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/log.js';
import { redactText, redactValue, registerSecretValues } from '../../lib/redact.js';

function captureLogger() {
  const lines: string[] = [];
  const destination = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
  return { logger: createLogger({ destination, level: 'debug' }), lines };
}

describe('redaction', () => {
  it('hides the password inside a connection string but keeps the rest readable', () => {
    expect(redactText('pg_dump: error: connection to postgres://app:s3cr3t-pw@db.internal:5432/app failed'))
      .toBe('pg_dump: error: connection to postgres://app:[REDACTED]@db.internal:5432/app failed');
  });

  it('hides libpq keyword passwords, bearer tokens, Slack and Fly tokens', () => {
    const text = 'host=x password=hunter22 Authorization: Bearer abc.def xoxb-123-456-abc FlyV1 fm2_lJPECAAAAAAAB';
    const redacted = redactText(text);
    for (const secret of ['hunter22', 'abc.def', 'xoxb-123-456-abc', 'fm2_lJPECAAAAAAAB']) expect(redacted).not.toContain(secret);
  });

  it('hides every registered secret value wherever it appears, also percent-encoded', () => {
    registerSecretValues(['tok_9f8e7d6c5b4a', 'p@ss word!']);
    expect(redactText('flyctl said tok_9f8e7d6c5b4a is bad')).toBe('flyctl said [REDACTED] is bad');
    expect(redactText('pw=p%40ss%20word! here')).not.toContain('p%40ss%20word!');
  });

  it('blanks secret-named keys in structured values', () => {
    expect(redactValue({ token: 'abcdefgh', nested: { password: 'zzzzzzzz', name: 'ok' } }))
      .toEqual({ token: '[REDACTED]', nested: { password: '[REDACTED]', name: 'ok' } });
  });
});

describe('logger', () => {
  it('writes JSON lines with secrets redacted in messages, fields and errors', async () => {
    registerSecretValues(['sk_live_0123456789']);
    const { logger, lines } = captureLogger();
    logger.info({ app: 'shop', databaseUrl: 'postgres://u:pw123456@h/db', detail: 'uses sk_live_0123456789' }, 'deploying with sk_live_0123456789');
    logger.error({ err: new Error('connect to postgres://u:pw123456@h/db refused') }, 'failed');
    await new Promise((r) => setImmediate(r));
    const output = lines.join('');
    expect(output).not.toContain('sk_live_0123456789');
    expect(output).not.toContain('pw123456');
    const first = JSON.parse(lines[0]!);
    expect(first).toMatchObject({ level: 'info', app: 'shop', msg: 'deploying with [REDACTED]', databaseUrl: '[REDACTED]' });
  });
});
