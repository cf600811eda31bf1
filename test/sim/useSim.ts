// Shared set-up of the simulator tests: one simulator per test file, torn down afterwards.
import { afterAll, beforeAll } from 'vitest';
import { createSim, type Sim } from '../../sim/testing.js';

export interface SimFixture {
  readonly sim: Sim;
}

/** Call at the top level of a test file. */
export function useSim(): SimFixture {
  let sim: Sim | undefined;
  beforeAll(async () => {
    sim = await createSim();
  });
  afterAll(async () => {
    await sim?.teardown();
  });
  return {
    get sim() {
      if (!sim) throw new Error('the simulator is used before beforeAll ran');
      return sim;
    },
  };
}

/** Parses stdout of `fly logs --json`: concatenated pretty-printed objects. */
export function parseConcatenatedJson(text: string): unknown[] {
  return text.split(/\n(?=\{)/).filter((chunk) => chunk.trim()).map((chunk) => JSON.parse(chunk));
}

export interface MachineJson {
  id: string;
  state: string;
  image_ref: { registry: string; repository: string; tag: string; digest: string };
  instance_id: string;
  config: { image: string; metadata: Record<string, string> };
  checks?: Array<{ name: string; status: string; output: string; updated_at: string }>;
  [key: string]: unknown;
}

export interface ReleaseJson {
  ID: string;
  Version: number;
  Stable: boolean;
  Status: string;
  ImageRef: string;
  [key: string]: unknown;
}

/** The machines of an app, lowest id first (the order rolling deploys update them in). */
export async function machinesOf(sim: Sim, app: string): Promise<MachineJson[]> {
  const machines = await sim.runJson<MachineJson[]>(['machine', 'list', '-a', app]);
  return machines.sort((a, b) => a.id.localeCompare(b.id));
}

export async function releasesOf(sim: Sim, app: string): Promise<ReleaseJson[]> {
  return sim.runJson<ReleaseJson[]>(['releases', '-a', app]);
}

/** flyctl's error report: stderr from its last `Error: ` line on (text blocks such as `==> …` come first). */
export function errorFrom(stderr: string): string {
  const index = stderr.lastIndexOf('\nError: ');
  return index < 0 ? stderr : stderr.slice(index + 1);
}
