// @ts-check
// A small TOML reader for the parts of fly.toml the simulator uses: key/value pairs (strings,
// numbers, booleans, arrays of those, inline tables), [tables], [[arrays of tables]], dotted keys
// and comments. Multi-line strings are not supported.
import { FlyError } from './errors.js';

/**
 * @param {string} text
 * @returns {Record<string, any>}
 */
export function parseToml(text) {
  /** @type {Record<string, any>} */
  const root = {};
  let current = root;
  const lines = text.split(/\r?\n/);
  lines.forEach((rawLine, index) => {
    const line = stripComment(rawLine).trim();
    if (!line) return;
    const arrayHeader = /^\[\[\s*([^\]]+?)\s*\]\]$/.exec(line);
    const tableHeader = /^\[\s*([^\]]+?)\s*\]$/.exec(line);
    if (arrayHeader) {
      const keys = splitKey(arrayHeader[1]);
      const parent = descend(root, keys.slice(0, -1));
      const last = /** @type {string} */ (keys.at(-1));
      parent[last] ??= [];
      const table = {};
      parent[last].push(table);
      current = table;
    } else if (tableHeader) {
      current = descend(root, splitKey(tableHeader[1]));
    } else {
      const eq = line.indexOf('=');
      if (eq < 0) throw new FlyError(`failed to parse fly.toml: line ${index + 1}: expected key = value`);
      const keys = splitKey(line.slice(0, eq).trim());
      const target = descend(current, keys.slice(0, -1));
      const reader = new ValueReader(line.slice(eq + 1).trim(), index + 1);
      target[/** @type {string} */ (keys.at(-1))] = reader.readValue();
    }
  });
  return root;
}

/**
 * Walks to (creating) the table at keys; for an array of tables, its last element.
 * @param {Record<string, any>} table
 * @param {string[]} keys
 */
function descend(table, keys) {
  let node = table;
  for (const key of keys) {
    node[key] ??= {};
    node = Array.isArray(node[key]) ? node[key].at(-1) : node[key];
  }
  return node;
}

/** @param {string} key */
function splitKey(key) {
  return key.split('.').map((part) => part.trim().replace(/^"(.*)"$/, '$1').replace(/^'(.*)'$/, '$1'));
}

/** @param {string} line */
function stripComment(line) {
  let quote = '';
  for (let i = 0; i < line.length; i += 1) {
    const ch = line[i];
    if (quote) {
      if (ch === '\\' && quote === '"') i += 1;
      else if (ch === quote) quote = '';
    } else if (ch === '"' || ch === "'") {
      quote = ch;
    } else if (ch === '#') {
      return line.slice(0, i);
    }
  }
  return line;
}

class ValueReader {
  /** @param {string} text @param {number} lineNumber */
  constructor(text, lineNumber) {
    this.text = text;
    this.pos = 0;
    this.lineNumber = lineNumber;
  }

  /** @returns {any} */
  readValue() {
    this.skipSpace();
    const ch = this.text[this.pos];
    if (ch === '"') return this.readBasicString();
    if (ch === "'") return this.readLiteralString();
    if (ch === '[') return this.readArray();
    if (ch === '{') return this.readInlineTable();
    return this.readScalar();
  }

  readBasicString() {
    let out = '';
    this.pos += 1;
    while (this.pos < this.text.length) {
      const ch = this.text[this.pos];
      if (ch === '"') {
        this.pos += 1;
        return out;
      }
      if (ch === '\\') {
        const next = this.text[this.pos + 1];
        /** @type {Record<string, string>} */
        const escapes = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\' };
        out += escapes[next] ?? next;
        this.pos += 2;
      } else {
        out += ch;
        this.pos += 1;
      }
    }
    throw this.error('unterminated string');
  }

  readLiteralString() {
    const end = this.text.indexOf("'", this.pos + 1);
    if (end < 0) throw this.error('unterminated string');
    const value = this.text.slice(this.pos + 1, end);
    this.pos = end + 1;
    return value;
  }

  readArray() {
    const items = [];
    this.pos += 1;
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] === ']') {
        this.pos += 1;
        return items;
      }
      items.push(this.readValue());
      this.skipSpace();
      if (this.text[this.pos] === ',') this.pos += 1;
      else if (this.text[this.pos] !== ']') throw this.error('expected , or ] in array');
    }
  }

  readInlineTable() {
    /** @type {Record<string, any>} */
    const table = {};
    this.pos += 1;
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] === '}') {
        this.pos += 1;
        return table;
      }
      const eq = this.text.indexOf('=', this.pos);
      if (eq < 0) throw this.error('expected key = value in inline table');
      const key = this.text.slice(this.pos, eq).trim().replace(/^"(.*)"$/, '$1');
      this.pos = eq + 1;
      table[key] = this.readValue();
      this.skipSpace();
      if (this.text[this.pos] === ',') this.pos += 1;
    }
  }

  readScalar() {
    const match = /^[^,\]}\s]+/.exec(this.text.slice(this.pos));
    if (!match) throw this.error('expected a value');
    this.pos += match[0].length;
    const token = match[0];
    if (token === 'true') return true;
    if (token === 'false') return false;
    const number = Number(token.replace(/_/g, ''));
    if (!Number.isNaN(number)) return number;
    throw this.error(`unsupported value ${token}`);
  }

  skipSpace() {
    while (/\s/.test(this.text[this.pos] ?? '')) this.pos += 1;
  }

  /** @param {string} message */
  error(message) {
    return new FlyError(`failed to parse fly.toml: line ${this.lineNumber}: ${message}`);
  }
}
