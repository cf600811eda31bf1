// What a database holds, in the terms a restore is checked against: its tables, indexes and
// sequences, and each table's row count. Taken from the source inside the dump's snapshot, and from
// a restored copy afterwards; equal inventories mean the restore brought everything back.
import type pg from 'pg';
import type { CheckResult } from '../../lib/messages.js';

export interface DatabaseInventory {
  tables: string[];
  indexes: string[];
  sequences: string[];
  /** Rows per table, keyed by schema-qualified name. */
  rowCounts: Record<string, number>;
}

const USER_RELATIONS = `
  select n.nspname as schema, c.relname as name, c.relkind as kind
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where c.relkind in ('r', 'p', 'i', 'I', 'S')
    and n.nspname not in ('pg_catalog', 'information_schema')
    and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp%'
    -- objects an extension creates come back with CREATE EXTENSION, not from the dump's data
    and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
  order by 1, 2`;

export async function takeInventory(client: pg.Client): Promise<DatabaseInventory> {
  const { rows } = await client.query<{ schema: string; name: string; kind: string }>(USER_RELATIONS);
  const named = (kinds: string[]) => rows.filter((r) => kinds.includes(r.kind));
  const tables = named(['r', 'p']);
  const rowCounts: Record<string, number> = {};
  for (const table of tables) {
    const qualified = `${client.escapeIdentifier(table.schema)}.${client.escapeIdentifier(table.name)}`;
    // Partitioned parents are counted through their partitions; ONLY keeps each row counted once.
    const only = table.kind === 'r' ? 'only ' : '';
    const { rows: [count] } = await client.query<{ n: string }>(`select count(*) as n from ${only}${qualified}`);
    rowCounts[`${table.schema}.${table.name}`] = Number(count!.n);
  }
  const qualifiedNames = (list: typeof rows) => list.map((r) => `${r.schema}.${r.name}`);
  return {
    tables: qualifiedNames(tables),
    indexes: qualifiedNames(named(['i', 'I'])),
    sequences: qualifiedNames(named(['S'])),
    rowCounts,
  };
}

export function compareInventories(expected: DatabaseInventory, actual: DatabaseInventory): CheckResult[] {
  return [
    compareNames('tables', expected.tables, actual.tables),
    compareNames('indexes', expected.indexes, actual.indexes),
    compareNames('sequences', expected.sequences, actual.sequences),
    compareRowCounts(expected.rowCounts, actual.rowCounts),
  ];
}

function compareNames(kind: string, expected: string[], actual: string[]): CheckResult {
  const missing = expected.filter((name) => !actual.includes(name));
  const unexpected = actual.filter((name) => !expected.includes(name));
  if (missing.length === 0 && unexpected.length === 0) return { name: kind, isPassed: true, detail: `${expected.length} ${kind} match` };
  const parts = [missing.length ? `missing ${listSome(missing)}` : '', unexpected.length ? `unexpected ${listSome(unexpected)}` : ''];
  return { name: kind, isPassed: false, detail: parts.filter(Boolean).join('; ') };
}

function compareRowCounts(expected: Record<string, number>, actual: Record<string, number>): CheckResult {
  const differing = Object.entries(expected)
    .filter(([table, rows]) => actual[table] !== rows)
    .map(([table, rows]) => `${table}: ${rows} expected, ${actual[table] ?? 'no table'} found`);
  const totalRows = Object.values(expected).reduce((sum, rows) => sum + rows, 0);
  if (differing.length === 0) return { name: 'row counts', isPassed: true, detail: `${totalRows} rows in ${Object.keys(expected).length} tables match` };
  return { name: 'row counts', isPassed: false, detail: listSome(differing) };
}

function listSome(items: string[], max = 5): string {
  return items.length <= max ? items.join(', ') : `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}
