// @ts-check
// The commands the simulator implements, with the flags real flyctl accepts for them (flags the
// simulator does not act on are accepted and ignored, so callers' argument lists work unchanged).
import { valueTakingFlagTokens } from './args.js';
import { FlyError } from './errors.js';

/** @typedef {import('./args.js').FlagSpec} FlagSpec */
/**
 * @typedef {{
 *   name: string, aliases?: string[], flags?: FlagSpec[], needsAuth?: boolean, sameAs?: string,
 *   load?: () => Promise<{ run: (ctx: import('./context.js').CommandContext) => Promise<void> }>,
 *   subcommands?: CommandNode[]
 * }} CommandNode
 */

/** @param {string} name @param {string} [short] @returns {FlagSpec} */
const stringFlag = (name, short) => ({ name, short, type: 'string' });
/** @param {string} name @param {string} [short] @param {boolean} [defaultValue] @returns {FlagSpec} */
const boolFlag = (name, short, defaultValue = false) => ({ name, short, type: 'bool', default: defaultValue });
/** @param {string} name @param {string} [short] @returns {FlagSpec} */
const arrayFlag = (name, short) => ({ name, short, type: 'stringArray' });

/** Root flags every command accepts (flyctl's persistent flags). */
export const GLOBAL_FLAGS = [stringFlag('access-token', 't'), boolFlag('verbose'), boolFlag('debug'), boolFlag('help', 'h')];

const APP = [stringFlag('app', 'a'), stringFlag('config', 'c')];
const JSON_OUTPUT = [boolFlag('json', 'j')];
const YES = [{ ...boolFlag('yes', 'y'), aliases: ['auto-confirm'] }];

const DEPLOY_FLAGS = [
  ...APP, ...YES,
  stringFlag('image', 'i'), stringFlag('image-label'), boolFlag('build-only'), boolFlag('push'),
  stringFlag('strategy'), stringFlag('wait-timeout'), stringFlag('release-command-timeout'), stringFlag('lease-timeout'),
  stringFlag('max-unavailable'), boolFlag('detach'), arrayFlag('env', 'e'), boolFlag('skip-release-command'),
  boolFlag('ha', undefined, true), boolFlag('smoke-checks', undefined, true), boolFlag('dns-checks', undefined, true),
  boolFlag('now'), boolFlag('update-only'), boolFlag('remote-only'), boolFlag('local-only'), boolFlag('no-cache'),
  boolFlag('recreate-builder'), stringFlag('dockerfile'), stringFlag('build-target'), arrayFlag('build-arg'),
  arrayFlag('build-secret'), arrayFlag('label'), stringFlag('primary-region'), stringFlag('regions'),
  stringFlag('exclude-regions'), stringFlag('only-machines'), stringFlag('process-groups'), stringFlag('max-concurrent'),
  stringFlag('deploy-retries'), stringFlag('vm-size'), stringFlag('vm-memory'), stringFlag('vm-cpu-kind'), stringFlag('vm-cpus'),
  stringFlag('depot'), stringFlag('builder-pool'), boolFlag('no-public-ips'), boolFlag('flycast'), boolFlag('buildkit'),
  arrayFlag('file-local'), arrayFlag('file-literal'), arrayFlag('file-secret'), stringFlag('signal', 's'),
];

const SECRETS_CHANGE_FLAGS = [...APP, boolFlag('stage'), boolFlag('detach'), boolFlag('dns-checks', undefined, true)];

/** @type {CommandNode[]} */
export const COMMANDS = [
  { name: 'version', flags: [...JSON_OUTPUT, stringFlag('saveinstall', 's')], load: () => import('./commands/version.js') },
  {
    name: 'auth',
    subcommands: [{ name: 'whoami', flags: JSON_OUTPUT, needsAuth: true, load: () => import('./commands/whoami.js') }],
  },
  {
    name: 'apps',
    aliases: ['app'],
    subcommands: [
      { name: 'create', flags: [...JSON_OUTPUT, stringFlag('org', 'o'), stringFlag('name'), stringFlag('network'), boolFlag('generate-name'), boolFlag('save'), ...YES], needsAuth: true, load: () => import('./commands/apps-create.js') },
      { name: 'list', aliases: ['ls'], flags: [...JSON_OUTPUT, stringFlag('org', 'o'), boolFlag('quiet', 'q')], needsAuth: true, load: () => import('./commands/apps-list.js') },
      { name: 'destroy', aliases: ['delete', 'remove', 'rm'], flags: YES, needsAuth: true, load: () => import('./commands/apps-destroy.js') },
      { name: 'releases', sameAs: 'releases', flags: [...APP, ...JSON_OUTPUT, boolFlag('image')], needsAuth: true, load: () => import('./commands/releases.js') },
    ],
  },
  { name: 'status', flags: [...APP, ...JSON_OUTPUT, boolFlag('all'), boolFlag('watch'), stringFlag('rate')], needsAuth: true, load: () => import('./commands/status.js') },
  { name: 'releases', flags: [...APP, ...JSON_OUTPUT, boolFlag('image')], needsAuth: true, load: () => import('./commands/releases.js') },
  {
    name: 'machine',
    aliases: ['machines', 'm'],
    subcommands: [
      { name: 'list', aliases: ['ls'], flags: [...APP, ...JSON_OUTPUT, boolFlag('quiet', 'q')], needsAuth: true, load: () => import('./commands/machine-list.js') },
      { name: 'restart', flags: [...APP, boolFlag('select'), stringFlag('signal', 's'), stringFlag('time'), boolFlag('force'), boolFlag('skip-health-checks')], needsAuth: true, load: () => import('./commands/machine-restart.js') },
    ],
  },
  {
    name: 'checks',
    aliases: ['check'],
    subcommands: [{ name: 'list', aliases: ['ls'], flags: [...APP, ...JSON_OUTPUT, stringFlag('check-name')], needsAuth: true, load: () => import('./commands/checks-list.js') }],
  },
  {
    name: 'image',
    aliases: ['img'],
    subcommands: [{ name: 'show', flags: [...APP, ...JSON_OUTPUT], needsAuth: true, load: () => import('./commands/image-show.js') }],
  },
  { name: 'deploy', flags: DEPLOY_FLAGS, needsAuth: true, load: () => import('./commands/deploy.js') },
  {
    name: 'secrets',
    aliases: ['secret'],
    subcommands: [
      { name: 'list', aliases: ['ls'], flags: [...APP, ...JSON_OUTPUT], needsAuth: true, load: () => import('./commands/secrets-list.js') },
      { name: 'set', flags: SECRETS_CHANGE_FLAGS, needsAuth: true, load: () => import('./commands/secrets-set.js') },
      { name: 'unset', flags: SECRETS_CHANGE_FLAGS, needsAuth: true, load: () => import('./commands/secrets-unset.js') },
      { name: 'deploy', flags: [...APP, boolFlag('detach'), boolFlag('dns-checks', undefined, true)], needsAuth: true, load: () => import('./commands/secrets-deploy.js') },
    ],
  },
  {
    name: 'scale',
    subcommands: [
      { name: 'count', flags: [...APP, ...YES, stringFlag('region', 'r'), stringFlag('process-group', 'g'), stringFlag('max-per-region'), arrayFlag('env', 'e'), stringFlag('vm-size')], needsAuth: true, load: () => import('./commands/scale-count.js') },
      { name: 'show', flags: [...APP, ...JSON_OUTPUT], needsAuth: true, load: () => import('./commands/scale-show.js') },
    ],
  },
  {
    name: 'logs',
    flags: [...APP, ...JSON_OUTPUT, { ...boolFlag('no-tail', 'n') }, stringFlag('machine'), stringFlag('instance', 'i'), stringFlag('region', 'r')],
    needsAuth: true,
    load: () => import('./commands/logs.js'),
  },
  {
    name: 'proxy',
    flags: [...APP, stringFlag('bind-addr', 'b'), boolFlag('select', 's'), boolFlag('watch-stdin'), boolFlag('quiet', 'q')],
    needsAuth: true,
    load: () => import('./commands/proxy.js'),
  },
];

/** @param {CommandNode[]} nodes @returns {FlagSpec[]} */
function allFlags(nodes) {
  return nodes.flatMap((node) => [...(node.flags ?? []), ...allFlags(node.subcommands ?? [])]);
}

const ANY_VALUE_FLAG_TOKENS = valueTakingFlagTokens([...GLOBAL_FLAGS, ...allFlags(COMMANDS)]);

/**
 * Finds the command named by argv (cobra's Find: subcommand names may sit among flags). Its
 * canonical name (for faults and the call log) is the path, or sameAs for a second spelling.
 * @param {string[]} argv
 * @returns {{ node: CommandNode, path: string[], rest: string[] }}
 */
export function findCommand(argv) {
  /** @type {CommandNode[]} */
  let candidates = COMMANDS;
  /** @type {CommandNode | undefined} */
  let node;
  const path = [];
  const rest = [];
  let isDescending = true;
  for (let i = 0; i < argv.length; i += 1) {
    const token = argv[i];
    if (token === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (token.startsWith('-')) {
      rest.push(token);
      // Before a command is known any flag may take a value; after, only that command's flags matter.
      const valueTokens = node ? valueTakingFlagTokens([...GLOBAL_FLAGS, ...allFlags([node])]) : ANY_VALUE_FLAG_TOKENS;
      if (valueTokens.has(token) && i + 1 < argv.length) rest.push(argv[(i += 1)]);
      continue;
    }
    const match = isDescending ? candidates.find((c) => c.name === token || c.aliases?.includes(token)) : undefined;
    if (match) {
      node = match;
      path.push(match.name);
      candidates = match.subcommands ?? [];
      continue;
    }
    if (!node) throw new FlyError(`unknown command "${token}" for "flyctl"`);
    if (node.subcommands) throw new FlyError(`unknown command "${token}" for "flyctl ${path.join(' ')}"`);
    isDescending = false;
    rest.push(token);
  }
  if (!node) return { node: { name: 'help', flags: [], load: () => import('./commands/help.js') }, path: ['help'], rest };
  if (node.subcommands) return { node: { name: 'help', flags: [], load: () => import('./commands/help.js') }, path: [...path, 'help'], rest };
  return { node, path, rest };
}
