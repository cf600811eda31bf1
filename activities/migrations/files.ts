// Reads a migrations folder from disk into migrations (see plan.ts for what the files mean).
import fs from 'node:fs/promises';
import path from 'node:path';
import { MigrationError } from './errors.js';
import { buildMigrations, parseMigrationFileName, type Migration } from './plan.js';

export async function readMigrationsFolder(dir: string): Promise<Migration[]> {
  let fileNames: string[];
  try {
    fileNames = await fs.readdir(dir);
  } catch (err) {
    throw new MigrationError('invalid', `Cannot read the migrations folder ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const migrationFiles = fileNames.filter((fileName) => parseMigrationFileName(fileName));
  const files = await Promise.all(migrationFiles.map(async (fileName) => ({ fileName, sql: await fs.readFile(path.join(dir, fileName), 'utf8') })));
  return buildMigrations(files);
}
