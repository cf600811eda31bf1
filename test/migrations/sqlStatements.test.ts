import { describe, expect, it } from 'vitest';
import { buildMigrations, executableStatements, isNonTransactional } from '../../activities/migrations/plan.js';
import { splitSqlSegments, sqlStatements } from '../../activities/migrations/sqlStatements.js';

const texts = (sql: string) => sqlStatements(sql).map((s) => s.text.trim());

describe('splitting migration files into statements', () => {
  it('splits on semicolons and gives the file back unchanged when the pieces are joined', () => {
    const sql = 'create table a (id int);\n-- note; not a statement\ninsert into a values (1);\n';
    expect(texts(sql)).toEqual(['create table a (id int);', '-- note; not a statement\ninsert into a values (1);']);
    expect(splitSqlSegments(sql).map((s) => s.text).join('')).toBe(sql);
  });

  it('keeps semicolons inside strings, quoted names, comments and dollar-quoted bodies', () => {
    const sql = [
      `insert into t values ('a;b', 'it''s;', E'back\\';slash');`,
      `create table "odd;name" (id int);`,
      `/* block; /* nested; */ still comment; */ select 1;`,
      `create function f() returns int language plpgsql as $body$ begin return 1; end; $body$;`,
      `do $$ begin perform 1; end $$;`,
    ].join('\n');
    expect(texts(sql)).toHaveLength(5);
  });

  it('keeps a BEGIN ATOMIC … END function body whole', () => {
    const sql = 'create function g(x int) returns int language sql begin atomic select case when x > 0 then 1 else 0 end; select 2; end;\nselect 3;';
    expect(texts(sql)).toEqual([
      'create function g(x int) returns int language sql begin atomic select case when x > 0 then 1 else 0 end; select 2; end;',
      'select 3;',
    ]);
  });

  it('recognizes the no-transaction marker only on the first line', () => {
    expect(isNonTransactional('-- flightdeck:no-transaction\ncreate index concurrently i on t (x);')).toBe(true);
    expect(isNonTransactional('select 1;\n-- flightdeck:no-transaction\n')).toBe(false);
  });

  it('refuses a COMMIT in the middle of a transactional migration, naming the way out', () => {
    const [migration] = buildMigrations([{ fileName: '1_split.up.sql', sql: 'create table a (id int);\ncommit;\ncreate table b (id int);\n' }]);
    expect(() => executableStatements(migration!.up)).toThrow(/1_split.up.sql: "COMMIT" inside the migration .* "-- flightdeck:no-transaction" the file.s first line/);
  });
});
