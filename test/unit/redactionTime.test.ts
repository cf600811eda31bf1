// Redaction runs on every line a command prints, and a command's output is untrusted: no input may
// make it hang. The bounds here are generous (a loaded 2-core machine); bench/redaction.ts measures.
import { describe, expect, it } from 'vitest';
import { runCommand } from '../../lib/process.js';
import { redactText } from '../../lib/redact.js';

const MiB = 1024 * 1024;

/** Letters and digits without a break: what a base64 token looks like to a pattern. */
function tokenLike(length: number): string {
  const alphabet = 'AbCdEfGhIjKlMnOpQrStUvWxYz0123456789';
  let text = '';
  while (text.length < length) text += alphabet;
  return text.slice(0, length);
}

describe('redaction time', () => {
  it('redacts a 1 MiB single-line token-like string within a second or two', () => {
    const inputs = [tokenLike(MiB), `ghp_${tokenLike(MiB)}`, `x://user:${tokenLike(MiB)}`, `postgres${'a:'.repeat(MiB / 2)}`, 'password='.repeat(MiB / 9)];
    const startedAt = performance.now();
    const outputs = inputs.map((input) => redactText(input));
    expect(performance.now() - startedAt).toBeLessThan(5_000);
    expect(outputs[0]).toBe(inputs[0]);
    expect(outputs[1]).toBe('[REDACTED]');
  });

  it('reads 16 MiB of output on one line, with progress lines cut to a readable length', async () => {
    const printSixteenMiB = `const chunk = 'AbCdEfGh0123456789'.repeat(65536); for (let i = 0; i < 15; i++) process.stdout.write(chunk); process.stdout.write('\\ndone\\n');`;
    const lines: string[] = [];
    const startedAt = performance.now();
    const result = await runCommand(process.execPath, ['-e', printSixteenMiB], { env: { PATH: process.env.PATH ?? '' }, timeoutMs: 60_000, onLine: (line) => lines.push(line) });
    expect(performance.now() - startedAt).toBeLessThan(30_000);
    expect(result.exitCode).toBe(0);
    expect(lines.at(-1)).toBe('done');
    expect(Math.max(...lines.map((line) => line.length))).toBeLessThanOrEqual(4096 + 40);
    expect(result.stdout.split('\n')[0]).toMatch(/more characters cut\]$/);
  });
});
