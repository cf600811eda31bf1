// Before the worker or the API starts anything: the namespace must know Flightdeck's search attributes
// (lib/runSearchAttributes.ts), since Temporal refuses a start, and fails a workflow task, that names an
// attribute it does not know. Flightdeck does not register them itself: adding search attributes is a
// namespace administrator's act (Temporal Cloud takes it only through its own API or UI), and a worker
// or API key should not need that right. The failure says how to register them.
import type { Connection } from '@temporalio/client';
import type { SearchAttributeType } from '@temporalio/common';
import { ConfigError } from './config.js';
import { cliTypeName, registerSearchAttributeCommands, RUN_SEARCH_ATTRIBUTES } from './runSearchAttributes.js';

/** temporal.api.enums.v1.IndexedValueType, as ListSearchAttributes answers it. */
const INDEXED_VALUE_TYPE: Record<SearchAttributeType, number> = { TEXT: 1, KEYWORD: 2, INT: 3, DOUBLE: 4, BOOL: 5, DATETIME: 6, KEYWORD_LIST: 7 };
const TYPE_OF_INDEXED_VALUE = new Map(Object.entries(INDEXED_VALUE_TYPE).map(([type, value]) => [value, type as SearchAttributeType]));

/** gRPC codes of a server that will not list attributes to this caller: nothing to check then. */
const PERMISSION_DENIED = 7;
const UNIMPLEMENTED = 12;

export interface SearchAttributeProblem {
  name: string;
  problem: string;
}

/** What is wrong with the namespace's attributes; empty when every one exists with its type. */
export async function searchAttributeProblems(connection: Pick<Connection, 'operatorService'>, namespace: string): Promise<SearchAttributeProblem[]> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  const problems: SearchAttributeProblem[] = [];
  for (const key of RUN_SEARCH_ATTRIBUTES) {
    const registered = customAttributes?.[key.name];
    if (registered === undefined || registered === null) {
      problems.push({ name: key.name, problem: `search attribute ${key.name} (${cliTypeName(key.type)}) is not registered` });
    } else if (Number(registered) !== INDEXED_VALUE_TYPE[key.type]) {
      const actual = TYPE_OF_INDEXED_VALUE.get(Number(registered));
      problems.push({
        name: key.name,
        problem: `search attribute ${key.name} is ${actual ? cliTypeName(actual) : `of type ${String(registered)}`}, not ${cliTypeName(key.type)}: `
          + `remove it (temporal operator search-attribute remove --name ${key.name}) and register it again`,
      });
    }
  }
  return problems;
}

/**
 * Throws a ConfigError (the process stops with the list and the commands) when an attribute is missing;
 * when the server does not let this caller list them, warns and goes on.
 */
export async function assertSearchAttributes(connection: Pick<Connection, 'operatorService'>, namespace: string, warn: (message: string) => void): Promise<void> {
  let problems: SearchAttributeProblem[];
  try {
    problems = await searchAttributeProblems(connection, namespace);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code !== PERMISSION_DENIED && code !== UNIMPLEMENTED) throw err;
    warn(`cannot list the search attributes of namespace ${namespace} (${(err as Error).message}); make sure ${RUN_SEARCH_ATTRIBUTES.map((k) => k.name).join(', ')} are registered (docs/operations.md, "Search attributes")`);
    return;
  }
  if (problems.length === 0) return;
  throw new ConfigError(`the Temporal namespace "${namespace}"`, [
    ...problems.map((p) => p.problem),
    `Flightdeck tags every run with these attributes and cannot start runs without them. Register them once per namespace:\n${
      registerSearchAttributeCommands(namespace, problems.map((p) => p.name)).map((command) => `      ${command.join(' ')}`).join('\n')}\n    (add --address/--api-key for your server; Temporal Cloud: the namespace's Search Attributes page or tcld; see docs/operations.md, "Search attributes")`,
  ]);
}
