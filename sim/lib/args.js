// @ts-check
// Flag parsing with pflag's rules and error texts: --name=value, --name value, -n value, -nvalue,
// grouped boolean shorthands (-jy), --bool=false, "--" ends flags; flags and arguments interleave.
import { FlyError } from './errors.js';

/**
 * @typedef {{ name: string, short?: string, type: 'string' | 'bool' | 'stringArray' | 'int', default?: unknown, aliases?: string[] }} FlagSpec
 * @typedef {{ flags: Record<string, any>, args: string[], given: Set<string> }} ParsedFlags
 */

/**
 * @param {string[]} tokens
 * @param {FlagSpec[]} specs
 * @returns {ParsedFlags}
 */
export function parseFlags(tokens, specs) {
  /** @type {Record<string, any>} */
  const flags = {};
  for (const spec of specs) flags[spec.name] = spec.type === 'stringArray' ? [] : spec.default ?? (spec.type === 'bool' ? false : '');
  const given = new Set();
  const args = [];
  for (let i = 0; i < tokens.length; i += 1) {
    const token = tokens[i];
    if (token === '--') {
      args.push(...tokens.slice(i + 1));
      break;
    }
    if (token.startsWith('--')) {
      i = parseLongFlag(tokens, i, specs, flags, given);
    } else if (token.startsWith('-') && token.length > 1) {
      i = parseShortFlags(tokens, i, specs, flags, given);
    } else {
      args.push(token);
    }
  }
  return { flags, args, given };
}

/**
 * @param {string[]} tokens
 * @param {number} i
 * @param {FlagSpec[]} specs
 * @param {Record<string, any>} flags
 * @param {Set<string>} given
 */
function parseLongFlag(tokens, i, specs, flags, given) {
  const body = tokens[i].slice(2);
  const eq = body.indexOf('=');
  const name = eq >= 0 ? body.slice(0, eq) : body;
  const spec = specs.find((s) => s.name === name || s.aliases?.includes(name));
  if (!spec) throw new FlyError(`unknown flag: --${name}`);
  if (eq >= 0) {
    assign(spec, body.slice(eq + 1), `--${spec.name}`, flags, given);
    return i;
  }
  if (spec.type === 'bool') {
    assign(spec, 'true', `--${spec.name}`, flags, given);
    return i;
  }
  if (i + 1 >= tokens.length) throw new FlyError(`flag needs an argument: --${name}`);
  assign(spec, tokens[i + 1], `--${spec.name}`, flags, given);
  return i + 1;
}

/**
 * @param {string[]} tokens
 * @param {number} i
 * @param {FlagSpec[]} specs
 * @param {Record<string, any>} flags
 * @param {Set<string>} given
 */
function parseShortFlags(tokens, i, specs, flags, given) {
  const group = tokens[i].slice(1);
  for (let j = 0; j < group.length; j += 1) {
    const letter = group[j];
    const spec = specs.find((s) => s.short === letter);
    if (!spec) throw new FlyError(`unknown shorthand flag: '${letter}' in -${group}`);
    const rest = group.slice(j + 1);
    if (spec.type === 'bool') {
      if (rest.startsWith('=')) {
        assign(spec, rest.slice(1), `-${letter}`, flags, given);
        return i;
      }
      assign(spec, 'true', `-${letter}`, flags, given);
      continue;
    }
    if (rest) {
      assign(spec, rest.replace(/^=/, ''), `-${letter}`, flags, given);
      return i;
    }
    if (i + 1 >= tokens.length) throw new FlyError(`flag needs an argument: '${letter}' in -${group}`);
    assign(spec, tokens[i + 1], `-${letter}`, flags, given);
    return i + 1;
  }
  return i;
}

/**
 * @param {FlagSpec} spec
 * @param {string} raw
 * @param {string} shownAs
 * @param {Record<string, any>} flags
 * @param {Set<string>} given
 */
function assign(spec, raw, shownAs, flags, given) {
  given.add(spec.name);
  if (spec.type === 'stringArray') {
    flags[spec.name].push(raw);
  } else if (spec.type === 'bool') {
    const value = parseGoBool(raw);
    if (value === null) throw new FlyError(`invalid argument "${raw}" for "${shownAs}" flag: strconv.ParseBool: parsing "${raw}": invalid syntax`);
    flags[spec.name] = value;
  } else if (spec.type === 'int') {
    if (!/^[-+]?\d+$/.test(raw)) throw new FlyError(`invalid argument "${raw}" for "${shownAs}" flag: strconv.ParseInt: parsing "${raw}": invalid syntax`);
    flags[spec.name] = Number(raw);
  } else {
    flags[spec.name] = raw;
  }
}

/** @param {string} raw */
function parseGoBool(raw) {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(raw)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(raw)) return false;
  return null;
}

/**
 * Names of flags that take a value, to skip their values while looking for subcommand names.
 * @param {FlagSpec[]} specs
 */
export function valueTakingFlagTokens(specs) {
  const tokens = new Set();
  for (const spec of specs) {
    if (spec.type === 'bool') continue;
    tokens.add(`--${spec.name}`);
    for (const alias of spec.aliases ?? []) tokens.add(`--${alias}`);
    if (spec.short) tokens.add(`-${spec.short}`);
  }
  return tokens;
}
