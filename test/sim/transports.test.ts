import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { checkMesh } from '../../sim/checks.js'
import {
  type FaultPlan,
  InvariantViolation,
  runScenario,
  type ScenarioResult,
  SimNetwork,
  SimNode,
  type SimRawStream,
  type SimTransport,
} from '../../sim/index.js'
import { thrownBy } from '../helpers/thrown.js'

/**
 * The simulated network with two transports: UDX through the DHT and TCP between nodes on one
 * LAN segment, adopted into the networker. One key is reached over both, from both ends at
 * once, under faults; LAN-only partitions cut parts of the nodes off the DHT.
 */

// Under mutation testing every mutant reruns this file: fewer generated scenarios there.
const mutation = process.env.CSN_MUTATION !== undefined
const BOTH: readonly SimTransport[] = ['udx', 'tcp']
const TOPIC = 'ab'.repeat(32)

describe('several transports to one key (fast-check)', () => {
  it('every invariant holds with UDX and TCP, LAN-only partitions among the faults', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
          peers: fc.integer({ min: 2, max: 6 }),
          topics: fc.integer({ min: 1, max: 3 }),
          steps: fc.integer({ min: 5, max: 60 }),
          faults: fc.boolean(),
          lanPartition: fc.boolean(),
          // TCP closing with a FIN, as in test/sim/tcp-fin.test.ts.
          tcpFin: fc.boolean(),
        }),
        async (scenario) => {
          // A failure names its invariant; runScenario(this record) replays it exactly.
          await runScenario({ ...scenario, transports: BOTH })
        },
      ),
      { numRuns: mutation ? 6 : 25 },
    )
  })

  it('every invariant holds over TCP alone: no DHT, only the LAN segments', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
          peers: fc.integer({ min: 2, max: 6 }),
          topics: fc.integer({ min: 1, max: 2 }),
          steps: fc.integer({ min: 5, max: 50 }),
          faults: fc.boolean(),
          tcpFin: fc.boolean(),
        }),
        async (scenario) => {
          await runScenario({ ...scenario, transports: ['tcp'] })
        },
      ),
      { numRuns: mutation ? 3 : 12 },
    )
  })

  it('is not vacuous: both transports are kept, races across them happen, LAN-only pairs hold', async () => {
    const results: ScenarioResult[] = []
    for (let seed = 100; seed < 104; seed++) {
      results.push(
        await runScenario({
          seed,
          peers: 5,
          topics: 2,
          steps: 50,
          transports: BOTH,
          lanPartition: true,
        }),
      )
    }
    const sum = (f: (r: ScenarioResult) => number): number => results.reduce((n, r) => n + f(r), 0)
    expect(sum((r) => r.kept.udx)).toBeGreaterThan(0)
    expect(sum((r) => r.kept.tcp)).toBeGreaterThan(0)
    expect(sum((r) => r.lanOnlyKept)).toBeGreaterThan(0)
    expect(sum((r) => r.faults['cross-transport-dial'] ?? 0)).toBeGreaterThan(0)
    expect(sum((r) => r.faults['lan-partition'] ?? 0)).toBeGreaterThan(4)
  })

  it('replays a seed exactly with both transports and a LAN-only partition', async () => {
    const opts = {
      seed: 4243,
      peers: 5,
      topics: 2,
      steps: 40,
      transports: BOTH,
      lanPartition: true,
    }
    const first = await runScenario(opts)
    expect(await runScenario(opts)).toEqual(first)
    expect(first.events).toBeGreaterThan(100)
  })
})

/** Two or more nodes on one network, each joining TOPIC both ways. */
function network(segments: (number | null)[], faults: Partial<FaultPlan> = {}) {
  const net = new SimNetwork({ seed: 11, transports: BOTH, faults })
  const nodes = segments.map(
    (segment, i) => new SimNode(i, net, net.keyPair(), () => 1, { segment }),
  )
  for (const node of nodes) node.configure(TOPIC, { announce: true, lookup: true }, true)
  const run = async (ms: number): Promise<void> => {
    await net.clock.runFor(ms)
    if (net.violation !== null) throw net.violation
  }
  return { net, nodes, run }
}

const transportOf = (node: SimNode, other: SimNode): string | undefined =>
  (node.networker.getPeer(other.keyPair.publicKey)?.stream.rawStream as SimRawStream | undefined)
    ?.transport

describe('one key over two transports', () => {
  it('dials raced over both transports from both ends end with one connection, the same at both', async () => {
    // Every dial is raced: by the other end over the same transport, and over the other one.
    const { net, nodes, run } = network([0, 0], { simultaneousDial: 1, crossTransportDial: 1 })
    await run(20_000)
    const [a, b] = nodes as [SimNode, SimNode]
    expect(net.injected['cross-transport-dial']).toBeGreaterThan(0)
    expect(net.history.filter((l) => l.transport === 'tcp').length).toBeGreaterThan(0)
    expect(net.history.filter((l) => l.transport === 'udx').length).toBeGreaterThan(0)
    expect(checkMesh(nodes, net.clock.now())).toBeGreaterThan(0)
    expect(a.connectionsTo(b)).toBe(1)
    const kept = a.networker.getPeer(b.keyPair.publicKey)
    expect(kept?.type).toBe(transportOf(a, b))
    expect(b.networker.getPeer(a.keyPair.publicKey)?.type).toBe(kept?.type)
  })

  it('a LAN-only partition: a segment connects over TCP, other segments not; the DHT back, all connect', async () => {
    const { net, nodes, run } = network([0, 0, 1])
    const [a, b, c] = nodes as [SimNode, SimNode, SimNode]
    await run(10_000)
    expect(checkMesh(nodes, net.clock.now())).toBeGreaterThan(3)
    for (const node of nodes) node.loseDht()
    await run(10_000)
    expect(transportOf(a, b)).toBe('tcp')
    expect(transportOf(b, a)).toBe('tcp')
    expect(a.canReach(c)).toBe(false)
    expect(a.networker.getPeer(c.keyPair.publicKey)).toBeNull()
    expect(b.connectionsTo(c)).toBe(0)
    checkMesh(nodes, net.clock.now())
    for (const node of nodes) node.regainDht()
    await run(15_000)
    checkMesh(nodes, net.clock.now())
    expect(transportOf(a, c)).toBe('udx')
    expect(a.connectionsTo(b)).toBe(1)
  })

  it('reports a peer whose type is not its transport', async () => {
    // A LAN side that adopts its TCP streams under the wrong name breaks 'peer-type-is-transport'.
    const { net, nodes, run } = network([0, 0])
    for (const node of nodes) {
      node.loseDht()
      const adopt = node.networker.adopt.bind(node.networker)
      node.networker.adopt = (stream, opts) => adopt(stream, { ...opts, type: 'udx' })
    }
    await expect(run(10_000)).rejects.toThrow(InvariantViolation)
    expect(net.violation?.invariant).toBe('peer-type-is-transport')
  })

  it('reports two nodes that no transport joins holding a connection', async () => {
    const { net, nodes, run } = network([0, 1])
    await run(10_000)
    const [a, b] = nodes as [SimNode, SimNode]
    expect(transportOf(a, b)).toBe('udx')
    // Off the DHT on different segments, yet still connected: their UDX link is not cut yet.
    a.swarm.dhtReachable = false
    expect(thrownBy(() => checkMesh(nodes, net.clock.now())).message).toMatch(
      /unreachable-never-peers/,
    )
  })
})
