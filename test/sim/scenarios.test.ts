import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { InvariantViolation, runScenario, SimNetwork, SimNode } from '../../sim/index.js'
import { ensureBuilt, ROOT } from '../helpers/build.js'

describe('simulated networks under faults (fast-check)', () => {
  it('every invariant holds for generated scenarios', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
          peers: fc.integer({ min: 2, max: 7 }),
          topics: fc.integer({ min: 1, max: 3 }),
          steps: fc.integer({ min: 5, max: 70 }),
          faults: fc.boolean(),
        }),
        async (scenario) => {
          // A failure names its invariant; fast-check prints its seed and the shrunk scenario,
          // and runScenario(scenario) replays it exactly.
          await runScenario(scenario)
        },
      ),
      { numRuns: 40 },
    )
  })

  it('replays a seed exactly', async () => {
    const opts = { seed: 4242, peers: 6, topics: 2, steps: 50 }
    const first = await runScenario(opts)
    const second = await runScenario(opts)
    expect(second).toEqual(first)
    expect(first.events).toBeGreaterThan(100)
    expect(first.messagesDelivered).toBeGreaterThan(0)
  })

  it('reports the broken invariant with where and when', async () => {
    // A node whose peer list is tampered with breaks 'peers-match-events'.
    const net = new SimNetwork({ seed: 3 })
    const node = new SimNode(0, net, net.keyPair(), () => 1)
    const other = new SimNode(1, net, net.keyPair(), () => 1)
    node.configure('ab'.repeat(32), { announce: true, lookup: true }, true)
    other.configure('ab'.repeat(32), { announce: true, lookup: true }, true)
    await net.clock.runUntil(3000)
    expect(node.networker.peers.size).toBe(1)
    node.networker.peers.clear()
    node.checkPeers()
    expect(net.violation).toBeInstanceOf(InvariantViolation)
    expect(net.violation?.invariant).toBe('peers-match-events')
  })
})

describe('npm run sim', () => {
  beforeAll(() => ensureBuilt(), 120_000)
  const sim = (...args: string[]) =>
    spawnSync(process.execPath, [join(ROOT, 'dist', 'sim', 'cli.js'), ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    })

  it('prints the seed first and "all invariants held" last, the same bytes every time', () => {
    const args = ['--seed', '7', '--runs', '3', '--peers', '5', '--topics', '2', '--steps', '40']
    const a = sim(...args)
    const b = sim(...args)
    expect(a.status).toBe(0)
    expect(a.stdout).toBe(b.stdout)
    const lines = a.stdout.trim().split('\n')
    expect(lines[0]).toBe('seed 7')
    expect(lines.at(-1)).toBe('all invariants held')
    expect(a.stdout).toMatch(/run 3\/3 seed 9: .* ok/)
    expect(a.stdout).toMatch(/invariants checked +\d+/)
    expect(a.stderr).toMatch(/speed +\d+x real time/)
  })

  it('picks and prints a seed when none is given, and rejects bad arguments', () => {
    const r = sim('--runs', '1', '--peers', '3', '--steps', '5')
    expect(r.status).toBe(0)
    expect(r.stdout.split('\n')[0]).toMatch(/^seed \d+$/)
    const bad = sim('--peers', '1')
    expect(bad.status).toBe(2)
    expect(bad.stderr).toContain('--peers must be a whole number ≥ 2')
  })
})
