import { defineConfig } from 'vitest/config'
import { FastFirstSequencer } from './test/helpers/fast-first-sequencer.js'

// Mutation testing runs the tests that exercise the pure core: its unit tests and the
// simulator's scenarios. The real-network suites test I/O, not core logic.
export default defineConfig({
  test: {
    include: ['test/core/**/*.test.ts', 'test/sim/scenarios.test.ts'],
    testTimeout: 120_000,
    env: { CSN_MUTATION: '1' },
    sequence: { sequencer: FastFirstSequencer },
  },
})
