import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Corestore from 'corestore'
import crypto from 'hypercore-crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { Networker } from '../../src/index.js'
import { objectBytes } from '../helpers/heap.js'
import { MemorySwarm } from '../helpers/memory-swarm.js'
import { eventually } from '../helpers/real-network.js'

/**
 * What a topic shared with a peer costs: every connection between two networkers proves
 * each topic both have joined (topic-link.ts), so a node that seeds many cores to many peers
 * holds topics × peers of that state. It was 731 bytes per topic per connection (both ends; a
 * node sharing 10,000 topics with 100 peers held 365 MB of its own ends) and is 207 now (a
 * small-integer entry per expected proof, no proof of ours kept). The bound is between.
 */
const BOUND_PER_TOPIC = 256
const CONNECTIONS = 6
const PEERS = 4

const cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c()
})

/** Heap per connection, both ends, once a hub and CONNECTIONS others share `count` topics. */
async function perConnection(count: number): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'csn-topic-state-'))
  const store = new Corestore(dir)
  const topics = Array.from({ length: count }, () => crypto.randomBytes(32))
  const hubSwarm = new MemorySwarm()
  const hub = new Networker(store, { swarm: hubSwarm })
  const others = Array.from({ length: CONNECTIONS }, (_, i) => {
    const swarm = new MemorySwarm()
    return { swarm, networker: new Networker(store.namespace(`other-${i}`), { swarm }) }
  })
  cleanup.push(async () => {
    for (const n of [hub, ...others.map((o) => o.networker)]) await n.close()
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })
  for (const n of [hub, ...others.map((o) => o.networker)]) {
    for (const t of topics) await n.configure(t, { announce: true, lookup: true, flush: false })
  }
  // Every topic known at every end: counted from the events, without making any peer's list.
  let known = 0
  const all = 2 * CONNECTIONS * count
  let allKnown: () => void = () => {}
  const done = new Promise<void>((r) => {
    allKnown = r
  })
  for (const n of [hub, ...others.map((o) => o.networker)]) {
    n.on('peer-add', (peer) => {
      known += peer.topics.length
      if (known === all) allKnown()
    })
    n.on('peer-topic-add', () => {
      if (++known === all) allKnown()
    })
  }
  const before = await objectBytes()
  for (const o of others) MemorySwarm.connect(o.swarm, hubSwarm)
  await done
  const after = await objectBytes()
  for (const o of others) {
    const [peer] = [...o.networker.peers]
    expect(peer?.topics.length).toBe(count)
  }
  expect([...hub.peers].map((p) => p.topics.length)).toEqual(others.map(() => count))
  return (after - before) / CONNECTIONS
}

/** Configures `count` topics on a hub connected to PEERS networkers that joined them all: ms per third. */
async function configureThirds(count: number): Promise<number[]> {
  const dir = await mkdtemp(join(tmpdir(), 'csn-topic-scale-'))
  const store = new Corestore(dir)
  const topics = Array.from({ length: count }, () => crypto.randomBytes(32))
  const hubSwarm = new MemorySwarm()
  const hub = new Networker(store, { swarm: hubSwarm })
  const others: Networker[] = []
  cleanup.push(async () => {
    for (const n of [hub, ...others]) await n.close()
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })
  for (let i = 0; i < PEERS; i++) {
    const swarm = new MemorySwarm()
    const n = new Networker(store.namespace(`peer-${i}`), { swarm })
    others.push(n)
    for (const t of topics) await n.configure(t, { announce: true, lookup: true, flush: false })
    const added = new Promise((r) => hub.once('peer-add', r))
    MemorySwarm.connect(swarm, hubSwarm)
    await added
  }
  let shared = 0
  hub.on('peer-topic-add', () => shared++)
  const thirds: number[] = []
  const third = count / 3
  for (let part = 0; part < 3; part++) {
    const t0 = performance.now()
    for (const t of topics.slice(part * third, (part + 1) * third)) {
      await hub.configure(t, { announce: true, lookup: true, flush: false })
    }
    thirds.push(performance.now() - t0)
  }
  await eventually(() => shared === count * PEERS, 'every peer shares every topic')
  return thirds
}

describe('topic state per connection', () => {
  it(`a topic shared with a peer costs the connection at most ${BOUND_PER_TOPIC} bytes of heap, both ends`, async () => {
    const one = await perConnection(1)
    const many = await perConnection(1001)
    const perTopic = (many - one) / 1000
    expect(perTopic).toBeGreaterThan(0)
    expect(perTopic).toBeLessThanOrEqual(BOUND_PER_TOPIC)
  }, 60_000)

  it('with peers connected, a configure costs as much when many topics are shared as when few are', async () => {
    // Each configure proves the topic on every connection and updates what each peer shares.
    // It once went over every topic each peer shared, so the last of 3,000 configures cost
    // three times the first: with 4 peers, the last third took 3.3× the first.
    const [first, , last] = await configureThirds(3000)
    expect(last! / first!).toBeLessThan(1.6)
  }, 120_000)
})
