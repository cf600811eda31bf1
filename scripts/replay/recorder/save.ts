// Saves a run's history as a replay fixture: <out>/<workflowType>/<scenario>.json, in the JSON form
// `temporal workflow show -o json` prints (see ../historyJson.ts).
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '../historyJson.js';

/** Under the output folder: one {name, workflowId, runId} file per saved history. */
export const RUNS_DIR = '.runs';

export interface SavedRun {
  workflowId: string;
  /** A particular run (e.g. the first run of a queue that continued as new); the latest when absent. */
  runId?: string;
  workflowType: string;
  scenario: string;
}

export async function saveHistory(client: Client, run: SavedRun): Promise<string> {
  const out = process.env.RECORD_OUT;
  if (!out) throw new Error('RECORD_OUT is not set: run the recorder through scripts/recordHistories.ts');
  const handle = client.workflow.getHandle(run.workflowId, run.runId);
  const history = await handle.fetchHistory();
  const type = history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name;
  if (type !== run.workflowType) throw new Error(`${run.workflowId} is a ${type}, not a ${run.workflowType}`);
  const file = path.join(out, run.workflowType, `${run.scenario}.json`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${historyToJSON(history)}\n`);
  // Replay needs the workflow id (child ids derive from it); the script gathers these into manifest.json.
  const runId = run.runId ?? (await handle.describe()).runId;
  fs.mkdirSync(path.join(out, RUNS_DIR), { recursive: true });
  fs.writeFileSync(path.join(out, RUNS_DIR, `${run.workflowType}__${run.scenario}.json`), JSON.stringify({ name: `${run.workflowType}/${run.scenario}`, workflowId: run.workflowId, runId }));
  return file;
}

/** Records a run still in flight (what an upgrade meets), then ends it so nothing keeps running. */
export async function saveInFlight(client: Client, run: SavedRun): Promise<void> {
  await saveHistory(client, run);
  await client.workflow.getHandle(run.workflowId).terminate('recorded as a replay fixture while in flight');
}
