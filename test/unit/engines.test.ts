// package.json's engines.node says what is really supported: no installed dependency refuses a
// version it admits, and the Docker image runs one it admits (scripts/checkEngines.ts, also run by .ci/run).
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkEngines } from '../../scripts/checkEngines.js';

describe('engines', () => {
  it('admits no Node version an installed dependency refuses, and admits the Docker image\'s', () => {
    const report = checkEngines(fileURLToPath(new URL('../../', import.meta.url)));
    expect(report.narrower).toEqual([]);
    expect(report.images.length).toBeGreaterThan(0);
    expect(report.images.filter((i) => !i.isSupported)).toEqual([]);
  });
});
