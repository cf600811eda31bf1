// Whether a module was run as the program (node --import tsx scripts/sandbox/x.ts) or imported (tests).
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export function isEntryPoint(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(moduleUrl);
}
