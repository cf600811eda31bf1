// The workflow code the worker bundles; the replay tests (test/replay) bundle exactly the same.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Compiled JS when running from dist/, the TypeScript source under tsx. */
export function workflowsPath(): string {
  const js = fileURLToPath(new URL('../workflows/index.js', import.meta.url));
  return fs.existsSync(js) ? js : fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
}
