// A small TOML reader for checking fly.toml in tests (no TOML package is installed): tables, arrays
// of tables, dotted keys, strings, numbers, booleans, arrays and inline tables. It throws on anything
// else, so a construct it does not know is a failing test, never a silent pass.
type TomlValue = string | number | boolean | TomlValue[] | TomlTable;
export interface TomlTable { [key: string]: TomlValue }

class Cursor {
  index = 0;
  constructor(readonly text: string, readonly line: number) {}
  skipSpaces(): void { while (this.index < this.text.length && /[ \t]/.test(this.text[this.index]!)) this.index += 1; }
  peek(): string | undefined { return this.text[this.index]; }
  fail(what: string): never { throw new Error(`fly.toml line ${this.line}: ${what} at "${this.text.slice(this.index)}"`); }
}

function stripComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i += 1) {
    const c = line[i]!;
    if (quote) { if (c === '\\' && quote === '"') i += 1; else if (c === quote) quote = undefined; continue; }
    if (c === '"' || c === "'") quote = c;
    else if (c === '#') return line.slice(0, i);
  }
  return line;
}

function parseKey(cursor: Cursor): string[] {
  const parts: string[] = [];
  for (;;) {
    cursor.skipSpaces();
    const bare = /^[A-Za-z0-9_-]+/.exec(cursor.text.slice(cursor.index));
    if (bare) { parts.push(bare[0]); cursor.index += bare[0].length; } else if (cursor.peek() === '"') parts.push(parseString(cursor)); else cursor.fail('expected a key');
    cursor.skipSpaces();
    if (cursor.peek() !== '.') return parts;
    cursor.index += 1;
  }
}

function parseString(cursor: Cursor): string {
  const quote = cursor.peek()!;
  let value = '';
  cursor.index += 1;
  while (cursor.index < cursor.text.length) {
    const c = cursor.text[cursor.index]!;
    cursor.index += 1;
    if (c === quote) return value;
    if (c === '\\' && quote === '"') {
      const escaped = cursor.text[cursor.index]!;
      cursor.index += 1;
      value += ({ n: '\n', t: '\t', '"': '"', '\\': '\\' } as Record<string, string>)[escaped] ?? cursor.fail(`unknown escape \\${escaped}`);
    } else value += c;
  }
  return cursor.fail('unterminated string');
}

function parseValue(cursor: Cursor): TomlValue {
  cursor.skipSpaces();
  const c = cursor.peek();
  if (c === '"' || c === "'") return parseString(cursor);
  if (c === '[') {
    cursor.index += 1;
    const items: TomlValue[] = [];
    for (;;) {
      cursor.skipSpaces();
      if (cursor.peek() === ']') { cursor.index += 1; return items; }
      items.push(parseValue(cursor));
      cursor.skipSpaces();
      if (cursor.peek() === ',') cursor.index += 1;
    }
  }
  if (c === '{') {
    cursor.index += 1;
    const table: TomlTable = {};
    for (;;) {
      cursor.skipSpaces();
      if (cursor.peek() === '}') { cursor.index += 1; return table; }
      const key = parseKey(cursor);
      if (cursor.peek() !== '=') cursor.fail('expected =');
      cursor.index += 1;
      assign(table, key, parseValue(cursor), cursor);
      cursor.skipSpaces();
      if (cursor.peek() === ',') cursor.index += 1;
    }
  }
  const scalar = /^(true|false|[+-]?\d[\d_]*(\.\d+)?)/.exec(cursor.text.slice(cursor.index));
  if (!scalar) return cursor.fail('expected a value');
  cursor.index += scalar[0].length;
  if (scalar[0] === 'true' || scalar[0] === 'false') return scalar[0] === 'true';
  return Number(scalar[0].replace(/_/g, ''));
}

function tableAt(root: TomlTable, path: string[], cursor: Cursor): TomlTable {
  let table = root;
  for (const part of path) {
    const next = table[part] ?? (table[part] = {});
    const target = Array.isArray(next) ? next[next.length - 1] : next;
    if (typeof target !== 'object' || target === null || Array.isArray(target)) cursor.fail(`${part} is not a table`);
    table = target as TomlTable;
  }
  return table;
}

function assign(table: TomlTable, key: string[], value: TomlValue, cursor: Cursor): void {
  const parent = tableAt(table, key.slice(0, -1), cursor);
  const name = key[key.length - 1]!;
  if (name in parent) cursor.fail(`duplicate key ${key.join('.')}`);
  parent[name] = value;
}

export function parseToml(text: string): TomlTable {
  const root: TomlTable = {};
  let current = root;
  text.split('\n').forEach((raw, i) => {
    const line = stripComment(raw).trim();
    if (!line) return;
    const cursor = new Cursor(line, i + 1);
    if (line.startsWith('[[')) {
      if (!line.endsWith(']]')) cursor.fail('expected ]]');
      const path = parseKey(new Cursor(line.slice(2, -2), i + 1));
      const parent = tableAt(root, path.slice(0, -1), cursor);
      const name = path[path.length - 1]!;
      const list = (parent[name] ??= []) as TomlValue[];
      if (!Array.isArray(list)) cursor.fail(`${name} is not an array of tables`);
      current = {};
      list.push(current);
    } else if (line.startsWith('[')) {
      if (!line.endsWith(']')) cursor.fail('expected ]');
      current = tableAt(root, parseKey(new Cursor(line.slice(1, -1), i + 1)), cursor);
    } else {
      const key = parseKey(cursor);
      if (cursor.peek() !== '=') cursor.fail('expected =');
      cursor.index += 1;
      assign(current, key, parseValue(cursor), cursor);
      cursor.skipSpaces();
      if (cursor.index !== line.length) cursor.fail('unexpected text after the value');
    }
  });
  return root;
}
