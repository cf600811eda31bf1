// Redaction benchmark: `npx tsx bench/redaction.ts` (a few seconds).
// Times redactText on hostile single lines of 1 MiB (token-like runs, and strings built to make the
// patterns backtrack), on 16 MiB of ordinary log output, and a command printing 16 MiB on one line
// through runCommand (line reader, progress lines, stdout kept and redacted).
// Prints figures; it passes or fails nothing.
import { runCommand } from '../lib/process.js';
import { redactText, registerSecretValues } from '../lib/redact.js';

const MiB = 1024 * 1024;
const token = (length: number) => 'AbCdEfGhIjKlMnOpQrStUvWxYz0123456789'.repeat(Math.ceil(length / 36)).slice(0, length);

registerSecretValues(['fo1_registered_fly_token_0123', 'postgres://u:registered-password-42@db/app', 'xoxb-registered-slack-token']);

const inputs: Record<string, string> = {
  '1 MiB token-like': token(MiB),
  '1 MiB ghp_ token': `ghp_${token(MiB)}`,
  '1 MiB after x://user:': `x://user:${token(MiB)}`,
  '1 MiB of "a:"': 'a:'.repeat(MiB / 2),
  '1 MiB of "a://"': 'a://'.repeat(MiB / 4),
  '1 MiB of "Bearer "': 'Bearer '.repeat(MiB / 7),
  '1 MiB of "password="': 'password='.repeat(MiB / 9),
  '16 MiB of log lines': 'deploying shop: flyctl said release v42 is healthy, postgres://u:pw@db/app ok\n'.repeat((16 * MiB) / 78),
};

function time(fn: () => unknown): number {
  const startedAt = performance.now();
  fn();
  return performance.now() - startedAt;
}

console.log('redactText');
for (const [name, text] of Object.entries(inputs)) {
  const runs = [0, 1, 2].map(() => time(() => redactText(text)));
  console.log(`  ${name.padEnd(28)} median ${Math.round(runs.sort((a, b) => a - b)[1]!)} ms`);
}

const printSixteenMiB = `const chunk = 'AbCdEfGh0123456789'.repeat(65536); for (let i = 0; i < 15; i++) process.stdout.write(chunk); process.stdout.write('\\n');`;
const startedAt = performance.now();
let progressLines = 0;
await runCommand(process.execPath, ['-e', printSixteenMiB], { env: { PATH: process.env.PATH ?? '' }, timeoutMs: 120_000, onLine: () => { progressLines++; } });
console.log(`runCommand, 16 MiB on one line: ${Math.round(performance.now() - startedAt)} ms (${progressLines} progress line)`);
