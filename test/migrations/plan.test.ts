import { describe, expect, it } from 'vitest';
import { MigrationError } from '../../activities/migrations/errors.js';
import { buildMigrations, planApply, planRollback, recoveryGuide } from '../../activities/migrations/plan.js';

const migrations = buildMigrations([1, 2, 3].flatMap((v) => [
  { fileName: `${v}_m${v}.up.sql`, sql: `select ${v};` },
  { fileName: `${v}_m${v}.down.sql`, sql: `select -${v};` },
]));

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof MigrationError && err.kind === 'invalid') return err.message;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('reading a migrations folder', () => {
  it('pairs up and down files by version, sorts numerically and ignores other files', () => {
    const migrations = buildMigrations([
      { fileName: '20240102120000_b.up.sql', sql: 'select 2;' },
      { fileName: '10_a.up.sql', sql: 'select 1;' },
      { fileName: '10_a.down.sql', sql: 'select -1;' },
      { fileName: 'README.md', sql: '' },
    ]);
    expect(migrations.map((m) => [m.version, m.name, Boolean(m.down)])).toEqual([[10, 'a', true], [20240102120000, 'b', false]]);
  });

  it('lists every problem of a broken folder at once', () => {
    expect(() => buildMigrations([
      { fileName: '1_a.up.sql', sql: '' },
      { fileName: '01_again.up.sql', sql: '' },
      { fileName: '2_orphan.down.sql', sql: '' },
    ])).toThrow(/version 1 has two up files[\s\S]*version 2 has a down file \(2_orphan.down.sql\) but no up file/);
  });
});

describe('planning', () => {
  const atTwo = { version: 2, isDirty: false };

  it('applies up to a version, and never goes back with apply', () => {
    expect(planApply(migrations, { version: 0, isDirty: false }, 2).map((s) => [s.migration.version, s.versionAfter])).toEqual([[1, 1], [2, 2]]);
    expect(refusal(() => planApply(migrations, atTwo, 1))).toMatch(/going back is the rollback action/);
    expect(refusal(() => planApply(migrations, atTwo, 7))).toMatch(/no migration 7/);
  });

  it('rolls back by steps or down to a version, each step recording the version below it', () => {
    const atThree = { version: 3, isDirty: false };
    expect(planRollback(migrations, atThree, { steps: 2 }).map((s) => [s.migration.version, s.versionAfter])).toEqual([[3, 2], [2, 1]]);
    expect(planRollback(migrations, atThree, { toVersion: 0 }).map((s) => s.versionAfter)).toEqual([2, 1, 0]);
  });

  it('asks for exactly one of steps and toVersion, within what is applied', () => {
    expect(refusal(() => planRollback(migrations, atTwo, {}))).toMatch(/exactly one of steps .* or toVersion/);
    expect(refusal(() => planRollback(migrations, atTwo, { steps: 1, toVersion: 1 }))).toMatch(/exactly one/);
    expect(refusal(() => planRollback(migrations, atTwo, { steps: 3 }))).toMatch(/only 2 applied/);
    expect(refusal(() => planRollback(migrations, atTwo, { toVersion: 3 }))).toMatch(/going forward is the apply action/);
  });

  it('explains a failed down migration with the versions to force either way', () => {
    const guide = recoveryGuide(migrations, { version: 1, isDirty: true }, { version: 2, name: 'm2', direction: 'down', error: 'lock timeout' });
    expect(guide).toMatch(/dirty at version 1: the down migration of 2_m2 failed part-way: lock timeout/);
    expect(guide).toMatch(/forceVersion 1 if the migration's changes are now complete, or forceVersion 2 if they are fully undone/);
  });
});
