import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/globalSetup.ts'],
    // Native Temporal bridge: one process per test file (Runtime.install is once per process).
    pool: 'forks',
    // Two files at once on two cores: a third made each file about 1.6× slower (the simulator's
    // processes, the workers and the servers keep both cores busy), so it gained nothing.
    maxWorkers: Number(process.env.FLIGHTDECK_TEST_FILES_AT_ONCE ?? 2),
    // Tests of a describe.concurrent block (each with its own app and task queue) running at once.
    maxConcurrency: 3,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
