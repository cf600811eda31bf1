// Every recorded history (test/replay/histories, from the released code: see manifest.json) replays
// against today's workflow code, bundled as the worker bundles it. A run in flight during an upgrade
// is replayed exactly like this by the new worker: a determinism error here is a stuck run there.
// Fix one with a patched() gate (docs/operations.md, "Upgrading Flightdeck"), never by re-recording.
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundleWorkflowCode, DefaultLogger, Worker, type WorkflowBundle } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import * as workflows from '../../workflows/index.js';
import { workflowsPath } from '../../worker/workflowsPath.js';
import { installQuietRuntime } from '../helpers/temporal.js';
import { closingOf, decodedText, findCredentials, loadFixtures, parseHistory, readManifest, startedWorkflowType, type HistoryFixture } from './fixtures.js';

const fixtures = loadFixtures();
const manifest = readManifest();
const workflowIdOf = (fixture: HistoryFixture) => manifest.fixtures.find((r) => r.name === fixture.name)?.workflowId ?? fixture.name;
const outcomes = new Map<string, Error | undefined>();

function bundle(path: string): Promise<WorkflowBundle> {
  return bundleWorkflowCode({ workflowsPath: path, logger: new DefaultLogger('WARN') });
}

function fixtureNamed(name: string): HistoryFixture {
  const fixture = fixtures.find((f) => f.name === name);
  if (!fixture) throw new Error(`no fixture ${name} in test/replay/histories (re-record with scripts/recordHistories.ts)`);
  return fixture;
}

beforeAll(async () => {
  installQuietRuntime();
  const workflowBundle = await bundle(workflowsPath());
  const histories = fixtures.map((f) => ({ workflowId: workflowIdOf(f), history: parseHistory(f) }));
  // One history at a time, results in the same order (an in-flight fixture and its finished run share an id).
  let index = 0;
  for await (const result of Worker.runReplayHistories({ workflowBundle, replayName: 'replay-fixtures' }, histories)) {
    outcomes.set(fixtures[index++]!.name, result.error);
  }
});

describe('recorded histories of the released code replay against today\'s workflows', () => {
  it('cover every workflow the recorded release registered, with runs in flight among them', () => {
    const types = new Set(fixtures.map((f) => f.workflowType));
    expect(manifest.workflowTypes.filter((name) => !types.has(name))).toEqual([]);
    // A workflow type removed since would leave its open runs without code.
    expect(manifest.workflowTypes.filter((name) => !(name in workflows))).toEqual([]);
    for (const fixture of fixtures) expect(startedWorkflowType(parseHistory(fixture)), fixture.name).toBe(fixture.workflowType);
    expect(manifest.fixtures.map((r) => r.name)).toEqual(fixtures.map((f) => f.name));
    const inFlight = fixtures.filter((f) => closingOf(parseHistory(f)) === 'in flight').map((f) => f.name);
    expect(inFlight).toEqual(expect.arrayContaining(['deployPipeline/waiting-for-approval', 'deployQueue/waiting-and-locked', 'restoreDatabase/waiting-for-approval']));
  });

  for (const fixture of fixtures) {
    it(`${fixture.name} (${closingOf(parseHistory(fixture))}) replays`, () => {
      expect(outcomes.has(fixture.name), `${fixture.name} was replayed`).toBe(true);
      const error = outcomes.get(fixture.name);
      if (error) {
        throw new Error(`workflow ${fixture.workflowType}, fixture ${fixture.name}: today's code does not replay this recorded history `
          + `(${error.name}: ${error.message}). Gate the change with patched() (docs/operations.md, "Upgrading Flightdeck").`);
      }
    });
  }

  it('hold no credential (tokens, passwords in connection strings)', () => {
    const leaks = fixtures.map((f) => [f.name, findCredentials(decodedText(f.json))]).filter(([, found]) => found.length);
    expect(leaks).toEqual([]);
  });
});

describe('the replay suite catches an incompatible change', () => {
  // incompatibleWorkflows.ts: deployPipeline with a timer added before its first activity, no patch.
  it('fails a released deploy history against a deployPipeline that starts with a new, unpatched command', async () => {
    const workflowBundle = await bundle(fileURLToPath(new URL('./incompatibleWorkflows.ts', import.meta.url)));
    const fixture = fixtureNamed('deployPipeline/waiting-for-approval');
    const error = await Worker.runReplayHistory({ workflowBundle, replayName: 'replay-incompatible' }, parseHistory(fixture), workflowIdOf(fixture)).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(DeterminismViolationError);
  });

  // patchedWorkflows.ts: the same new command behind patched(), the house rule.
  it('replays the same history when that new command is gated with patched()', async () => {
    const workflowBundle = await bundle(fileURLToPath(new URL('./patchedWorkflows.ts', import.meta.url)));
    const fixture = fixtureNamed('deployPipeline/waiting-for-approval');
    await Worker.runReplayHistory({ workflowBundle, replayName: 'replay-patched' }, parseHistory(fixture), workflowIdOf(fixture));
  });
});
