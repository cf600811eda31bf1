import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/globalSetup.ts'],
    // Native Temporal bridge: one process per test file (Runtime.install is once per process).
    pool: 'forks',
    // Three files at once on two cores: the files wait on servers, rollouts and timers most of the time
    // (about 0.65 CPU-seconds per second of test time), so a third file uses what two leave idle.
    maxWorkers: Number(process.env.FLIGHTDECK_TEST_FILES_AT_ONCE ?? 3),
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
