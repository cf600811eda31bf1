// globalSetup of a recording run (scripts/recordHistories.ts): the servers are already started by
// the script; the recorder files reach them through the same inject() names the test helpers use.
import type { TestProject } from 'vitest/node';

export default function setup(project: TestProject): void {
  const need = (name: string): string => {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is not set: run the recorder through scripts/recordHistories.ts`);
    return value;
  };
  project.provide('temporalAddress', need('RECORD_TEMPORAL_ADDRESS'));
  project.provide('temporalNamespace', 'default');
  project.provide('postgresUrl', need('RECORD_POSTGRES_URL'));
}
