import { describe, expect, it } from 'vitest'
import { runScenario, type ScenarioOptions, type SimTransport } from '../../sim/index.js'

/**
 * Seeds the simulator found with two transports where the ends kept different connections to
 * each other: one end took a held newcomer on data the other end had written on it before
 * switching away (docs/design.md, the dedup rule). Each replays the whole run; the reduced
 * interleavings are in test/core/dedup-in-flight.test.ts.
 */
const BOTH: readonly SimTransport[] = ['udx', 'tcp']

const replays: [string, ScenarioOptions, string[]][] = [
  [
    'TCP and UDX dialed from opposite ends at the same instant',
    { seed: 1716848175, peers: 6, topics: 2, steps: 50, transports: BOTH, lanPartition: true },
    ['cross-transport-dial'],
  ],
  [
    'TCP and UDX dialed from the same end',
    { seed: 1881593114, peers: 5, topics: 1, steps: 31, transports: BOTH },
    ['cross-transport-dial'],
  ],
  [
    "two UDX dials at once while one end holds a silent link to the other's crashed process",
    { seed: 2143542689, peers: 5, topics: 1, steps: 55, transports: BOTH },
    ['simultaneous-dial', 'silent-cut', 'crash'],
  ],
]

describe('replays of runs that once split a pair across two connections', () => {
  for (const [what, options, faults] of replays) {
    it(`${what} (seed ${options.seed}): every invariant holds`, async () => {
      // Throws the broken invariant (same-connection-both-ends, before the fix).
      const result = await runScenario(options)
      // Still the run that found it: the faults that made the race are there.
      for (const fault of faults) expect(result.faults[fault] ?? 0).toBeGreaterThan(0)
      expect(result.kept.udx + result.kept.tcp).toBeGreaterThan(0)
    })
  }
})
