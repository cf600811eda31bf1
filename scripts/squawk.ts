// Finds squawk, the migration linter, for tests and sandbox mode (scripts/squawk.sh installs it).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const squawkScript = fileURLToPath(new URL('./squawk.sh', import.meta.url));

/** squawk's path without installing it; throws the script's own explanation when it is missing. */
export function locateSquawk(): string {
  try {
    return execFileSync('bash', [squawkScript, '--no-install'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(stderr || `scripts/squawk.sh failed: ${(err as Error).message}`);
  }
}
