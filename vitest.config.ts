import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    globalSetup: ['test/helpers/global-build.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // The JSON report is what .ci/run counts passes and failures from.
    reporters: ['default', 'json'],
    outputFile: { json: 'reports/vitest.json' },
    projects: [
      {
        extends: true,
        test: {
          name: 'suite',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.solo.test.ts'],
          // Integration tests bind real UDP sockets; two workers match the 2-core machines.
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        // Tests that time something against itself over a minute (the crash loop's restores)
        // run after the rest, alone: other test files starting and stopping beside them
        // change the machine's load mid-measurement.
        extends: true,
        test: {
          name: 'solo',
          include: ['test/**/*.solo.test.ts'],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
})
