// How the long-running processes (worker, API) start and fail: a configuration problem is a usage
// error (exit 2) printed as the list of problems; anything else exits 1 with the error.
import { ConfigError } from './config.js';

export function runProcessMain(name: string, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    console.error(`${name} stopped:`, err);
    process.exit(1);
  });
}
