// Flightdeck's custom search attributes: what a run is about (its kind, app, environment or database)
// and the state it is in, indexed by Temporal's visibility store, so `history`, `status`, GET /runs and
// Slack read one narrow page of runs instead of scanning by workflow id. The names and types live here
// only: every starter, the workflows (lifecycle state), the listings, the start-up check, the dev
// servers and the docs (docs/operations.md, "Search attributes") follow this list.
// Workflow-safe: pure code and @temporalio/common definitions.
import { defineSearchAttributeKey, SearchAttributeType, type SearchAttributePair } from '@temporalio/common';
import type { RunKind, RunState } from './messages.js';

export const RUN_APP = defineSearchAttributeKey('FlightdeckApp', SearchAttributeType.KEYWORD);
export const RUN_ENVIRONMENT = defineSearchAttributeKey('FlightdeckEnvironment', SearchAttributeType.KEYWORD);
/** A RunKind: deploy, rollback, migrate, backup, restore, incident, scale. */
export const RUN_KIND = defineSearchAttributeKey('FlightdeckKind', SearchAttributeType.KEYWORD);
export const RUN_DATABASE = defineSearchAttributeKey('FlightdeckDatabase', SearchAttributeType.KEYWORD);
/** A RunState, upserted by the run (workflows/runTracker.ts) whenever it changes. */
export const RUN_STATE = defineSearchAttributeKey('FlightdeckState', SearchAttributeType.KEYWORD);

/** Every attribute a namespace must have before Flightdeck starts a run in it. */
export const RUN_SEARCH_ATTRIBUTES = [RUN_APP, RUN_ENVIRONMENT, RUN_KIND, RUN_DATABASE, RUN_STATE] as const;

/** The Temporal CLI's name of a type (`--type Keyword`, `--search-attribute Name=Keyword`). */
export function cliTypeName(type: SearchAttributeType): string {
  return type === 'KEYWORD_LIST' ? 'KeywordList' : `${type.charAt(0)}${type.slice(1).toLowerCase()}`;
}

/** `temporal server start-dev` arguments that register every attribute (the dev server forgets them with its database). */
export function devServerSearchAttributeArgs(): string[] {
  return RUN_SEARCH_ATTRIBUTES.flatMap((key) => ['--search-attribute', `${key.name}=${cliTypeName(key.type)}`]);
}

/**
 * The Temporal CLI commands that register every attribute in a namespace (self-hosted servers; once per
 * namespace; registering one that exists with its type does nothing). One command per attribute: the CLI
 * registers only the first of several --name.
 */
export function registerSearchAttributeCommands(namespace: string, names?: string[]): string[][] {
  return RUN_SEARCH_ATTRIBUTES.filter((key) => !names || names.includes(key.name)).map((key) => [
    'temporal', 'operator', 'search-attribute', 'create', '--namespace', namespace, '--name', key.name, '--type', cliTypeName(key.type),
  ]);
}

export const WORKFLOW_TYPE_OF_KIND: Record<RunKind, string> = {
  deploy: 'deployPipeline',
  rollback: 'rollback',
  migrate: 'migrateDatabase',
  backup: 'backupDatabase',
  restore: 'restoreDatabase',
  incident: 'incidentRunbook',
  scale: 'scaleApp',
};
const KIND_OF_WORKFLOW_TYPE = new Map(Object.entries(WORKFLOW_TYPE_OF_KIND).map(([kind, type]) => [type, kind as RunKind]));

export function kindOfWorkflowType(workflowType: string): RunKind | undefined {
  return KIND_OF_WORKFLOW_TYPE.get(workflowType);
}

export interface RunAttributes {
  kind: RunKind;
  app?: string;
  environment?: string;
  database?: string;
  state?: RunState;
}

/** The attributes a run is started with (`typedSearchAttributes`); absent fields are left out. */
export function runSearchAttributes(run: RunAttributes): SearchAttributePair[] {
  const pairs: SearchAttributePair[] = [{ key: RUN_KIND, value: run.kind }];
  if (run.app) pairs.push({ key: RUN_APP, value: run.app });
  if (run.environment) pairs.push({ key: RUN_ENVIRONMENT, value: run.environment });
  if (run.database) pairs.push({ key: RUN_DATABASE, value: run.database });
  if (run.state) pairs.push({ key: RUN_STATE, value: run.state });
  return pairs;
}
