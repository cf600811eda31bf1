// What a database is besides its contents: encoding and locale, owner, its ACL (REVOKE CONNECT …)
// and its settings (ALTER DATABASE … SET search_path). pg_restore without --create never applies
// them, so a restore records them at dump time, creates the target with them and re-applies them:
// a restored production database that lost its search_path fails with "relation does not exist".
import type pg from 'pg';
import { z } from 'zod';
import { PermanentError, permanentFailure } from '../../lib/errors.js';
import type { CheckResult } from '../../lib/messages.js';

export const databasePropertiesSchema = z.object({
  encoding: z.string(),
  /** pg_database.datlocprovider: c (libc), i (icu), b (builtin, PostgreSQL 17+). */
  localeProvider: z.string(),
  collate: z.string(),
  ctype: z.string(),
  /** The ICU (or builtin) locale, when that provider is used. */
  locale: z.string().nullable(),
  owner: z.string(),
  /** null: the default ACL (owner all, PUBLIC connect and temporary). */
  acl: z.array(z.object({ grantee: z.string(), privilege: z.string(), isGrantable: z.boolean() })).nullable(),
  /** ALTER DATABASE … SET (role null) and ALTER ROLE … IN DATABASE … SET. */
  settings: z.array(z.object({ role: z.string().nullable(), name: z.string(), value: z.string() })),
});

export type DatabaseProperties = z.infer<typeof databasePropertiesSchema>;

export async function readDatabaseProperties(client: pg.ClientBase, database: string): Promise<DatabaseProperties> {
  const { rows: [row] } = await client.query<{ d: Record<string, unknown>; encoding: string; owner: string }>(
    'select to_jsonb(d) as d, pg_encoding_to_char(d.encoding) as encoding, pg_get_userbyid(d.datdba) as owner from pg_database d where d.datname = $1',
    [database],
  );
  if (!row) throw permanentFailure(PermanentError.InvalidInput, `database ${database} does not exist`);
  const { rows: acl } = await client.query<{ grantee: string; privilege: string; isGrantable: boolean }>(
    `select case when a.grantee = 0 then 'PUBLIC' else pg_get_userbyid(a.grantee) end as grantee, a.privilege_type as privilege, a.is_grantable as "isGrantable"
     from pg_database d, aclexplode(d.datacl) a where d.datname = $1 order by 1, 2`,
    [database],
  );
  const { rows: settings } = await client.query<{ role: string | null; setting: string }>(
    `select r.rolname as role, unnest(s.setconfig) as setting
     from pg_db_role_setting s join pg_database d on d.oid = s.setdatabase left join pg_roles r on r.oid = s.setrole
     where d.datname = $1`,
    [database],
  );
  const d = row.d;
  return {
    encoding: row.encoding,
    localeProvider: String(d.datlocprovider ?? 'c'),
    collate: String(d.datcollate),
    ctype: String(d.datctype),
    // PostgreSQL 15-16 call it daticulocale, 17 datlocale.
    locale: (d.datlocale ?? d.daticulocale ?? null) as string | null,
    owner: row.owner,
    acl: d.datacl === null ? null : acl,
    settings: settings.map(({ role, setting }) => {
      const at = setting.indexOf('=');
      return { role, name: setting.slice(0, at), value: setting.slice(at + 1) };
    }).sort((a, b) => `${a.role}/${a.name}`.localeCompare(`${b.role}/${b.name}`)),
  };
}

/** CREATE DATABASE with the source's encoding, locale and owner (template0: a restore needs it empty). */
export async function createDatabaseLike(admin: pg.ClientBase, name: string, properties: DatabaseProperties | undefined): Promise<void> {
  const target = admin.escapeIdentifier(name);
  if (!properties) {
    await admin.query(`create database ${target} template template0`);
    return;
  }
  const literal = (value: string) => admin.escapeLiteral(value);
  const options = [`encoding ${literal(properties.encoding)}`, `lc_collate ${literal(properties.collate)}`, `lc_ctype ${literal(properties.ctype)}`];
  const { rows: [version] } = await admin.query<{ num: string }>("select current_setting('server_version_num') as num");
  if (Number(version!.num) >= 150000) {
    const provider = { c: 'libc', i: 'icu', b: 'builtin' }[properties.localeProvider] ?? 'libc';
    options.push(`locale_provider ${provider}`);
    if (provider === 'icu' && properties.locale) options.push(`icu_locale ${literal(properties.locale)}`);
    if (provider === 'builtin' && properties.locale) options.push(`builtin_locale ${literal(properties.locale)}`);
  }
  const { rowCount } = await admin.query('select 1 from pg_roles where rolname = $1', [properties.owner]);
  if (!rowCount) {
    throw permanentFailure(PermanentError.BackupRestoreFailed, `the backup's database owner, role ${properties.owner}, does not exist on this server: create it (or restore its globals) first`);
  }
  options.push(`owner ${admin.escapeIdentifier(properties.owner)}`);
  await admin.query(`create database ${target} template template0 ${options.join(' ')}`);
}

/** Re-applies the recorded settings and ACL to name (already created by createDatabaseLike). */
export async function applyDatabaseProperties(admin: pg.ClientBase, name: string, properties: DatabaseProperties): Promise<void> {
  const target = admin.escapeIdentifier(name);
  for (const setting of properties.settings) {
    const scope = setting.role === null ? `database ${target}` : `role ${admin.escapeIdentifier(setting.role)} in database ${target}`;
    await admin.query(`alter ${scope} set ${admin.escapeIdentifier(setting.name)} to ${settingValueSql(admin, setting.name, setting.value)}`);
  }
  if (properties.acl === null) return;
  await admin.query(`revoke all on database ${target} from public`);
  await admin.query(`revoke all on database ${target} from ${admin.escapeIdentifier(properties.owner)}`);
  for (const entry of properties.acl) {
    const grantee = entry.grantee === 'PUBLIC' ? 'public' : admin.escapeIdentifier(entry.grantee);
    await admin.query(`grant ${entry.privilege.toLowerCase()} on database ${target} to ${grantee}${entry.isGrantable ? ' with grant option' : ''}`);
  }
}

/** The settings PostgreSQL stores as a list of (possibly quoted) names; pg_dump splits them likewise. */
const LIST_SETTINGS = new Set(['search_path', 'temp_tablespaces', 'session_preload_libraries', 'local_preload_libraries', 'shared_preload_libraries']);

function settingValueSql(admin: pg.ClientBase, name: string, value: string): string {
  if (!LIST_SETTINGS.has(name.toLowerCase())) return admin.escapeLiteral(value);
  return splitSettingList(value).map((item) => admin.escapeLiteral(item)).join(', ');
}

/** "$user", public, "My Schema" → ['$user', 'public', 'My Schema'] (SplitGUCList's rules). */
export function splitSettingList(value: string): string[] {
  const items: string[] = [];
  let i = 0;
  while (i < value.length) {
    while (value[i] === ' ' || value[i] === ',') i++;
    if (i >= value.length) break;
    let item = '';
    if (value[i] === '"') {
      i++;
      while (i < value.length) {
        if (value[i] === '"' && value[i + 1] === '"') { item += '"'; i += 2; continue; }
        if (value[i] === '"') { i++; break; }
        item += value[i++];
      }
    } else {
      while (i < value.length && value[i] !== ',') item += value[i++];
      item = item.trim().toLowerCase();
    }
    items.push(item);
    while (i < value.length && value[i] !== ',') i++;
  }
  return items;
}

/** The restored database's properties against the source's: each difference named. */
export function compareDatabaseProperties(expected: DatabaseProperties, actual: DatabaseProperties): CheckResult {
  const differences: string[] = [];
  for (const key of ['encoding', 'localeProvider', 'collate', 'ctype', 'locale', 'owner'] as const) {
    if (expected[key] !== actual[key]) differences.push(`${key} ${actual[key]} (expected ${expected[key]})`);
  }
  const aclText = (acl: DatabaseProperties['acl']) => (acl === null ? 'default' : acl.map((e) => `${e.grantee}:${e.privilege}${e.isGrantable ? '*' : ''}`).sort().join(', ') || 'none');
  if (aclText(expected.acl) !== aclText(actual.acl)) differences.push(`ACL ${aclText(actual.acl)} (expected ${aclText(expected.acl)})`);
  const settingsText = (settings: DatabaseProperties['settings']) => settings.map((s) => `${s.role ?? '*'}:${s.name}=${s.value}`).sort().join('; ') || 'none';
  if (settingsText(expected.settings) !== settingsText(actual.settings)) differences.push(`settings ${settingsText(actual.settings)} (expected ${settingsText(expected.settings)})`);
  if (differences.length) return { name: 'database properties', isPassed: false, detail: differences.join('; ') };
  return { name: 'database properties', isPassed: true, detail: `${expected.encoding}, ${expected.collate}, owner ${expected.owner}, ACL ${aclText(expected.acl)}, settings ${settingsText(expected.settings)}` };
}
