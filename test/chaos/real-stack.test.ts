import b4a from 'b4a'
import type { Hypercore } from 'corestore'
import { expect, it } from 'vitest'
import { Prng } from '../../sim/prng.js'
import { hex } from '../helpers/assertions.js'
import { eventually, useRealNetwork } from '../helpers/real-network.js'

const testnet = useRealNetwork()

const NODES = 10
const TOPICS = 15
const DISCONNECTS = 30
const BLOCKS = 20

/**
 * Hyperswarm's chaos test, stronger: 10 networkers, 15 cores each announced by a random
 * writer and looked up by random readers, 30 forced disconnects within 10 s. After settling,
 * every peer set is exactly the expected mesh, every shared core is fully replicated, and no
 * node holds a duplicate connection. SEED replays a run.
 */
it('10 networkers, 15 topics, 30 forced disconnects: the exact mesh and full replication return', async () => {
  const seed = Number(process.env.SEED ?? Math.floor(Math.random() * 2 ** 31))
  console.log(`chaos seed ${seed} (replay with SEED=${seed})`)
  const prng = new Prng(seed)
  const nodes = await Promise.all(Array.from({ length: NODES }, () => testnet().networker()))
  const keyOf = nodes.map((n) => hex(n.networker.keyPair.publicKey))

  // Each topic: one writer announcing its core, 2-4 readers looking it up.
  const expected = nodes.map(() => new Set<string>())
  const replicas: { core: Hypercore; reader: number; topic: number }[] = []
  const writers: Hypercore[] = []
  for (let t = 0; t < TOPICS; t++) {
    const w = prng.int(0, NODES - 1)
    const core = nodes[w]!.store.get({ name: `topic-${t}` })
    await core.ready()
    await core.append(Array.from({ length: BLOCKS }, (_, i) => b4a.from(`topic ${t} block ${i}`)))
    writers.push(core)
    await nodes[w]!.networker.configure(core.discoveryKey, {
      announce: true,
      lookup: false,
      flush: false,
    })
    const readers = new Set<number>()
    const count = prng.int(2, 4)
    while (readers.size < count) {
      const r = prng.int(0, NODES - 1)
      if (r !== w) readers.add(r)
    }
    for (const r of readers) {
      const replica = nodes[r]!.store.get({ key: core.key })
      await replica.ready()
      replicas.push({ core: replica, reader: r, topic: t })
      expected[r]!.add(keyOf[w]!)
      expected[w]!.add(keyOf[r]!)
    }
  }
  await Promise.all(
    replicas.map(({ core, reader }) =>
      nodes[reader]!.networker.configure(core.discoveryKey, {
        announce: false,
        lookup: true,
        flush: false,
      }),
    ),
  )
  const meshHolds = () =>
    nodes.every(({ networker }, i) => {
      const keys = [...networker.peers].map((p) => hex(p.remotePublicKey)).sort()
      return keys.join() === [...expected[i]!].sort().join()
    })
  await eventually(meshHolds, 'the mesh forms', 60_000)

  // 30 forced disconnects within 10 s, spread over the connected pairs so no pair is pushed
  // into Hyperswarm's long backoff.
  const hits = new Map<string, number>()
  for (let d = 0; d < DISCONNECTS; d++) {
    await new Promise((r) => setTimeout(r, prng.int(50, 600)))
    const candidates = nodes.flatMap(({ networker }, i) =>
      [...networker.peers].map((peer) => ({
        i,
        peer,
        pair: [keyOf[i], hex(peer.remotePublicKey)].sort().join(),
      })),
    )
    if (candidates.length === 0) continue
    const least = Math.min(...candidates.map((c) => hits.get(c.pair) ?? 0))
    const pick = prng.pick(candidates.filter((c) => (hits.get(c.pair) ?? 0) === least))
    hits.set(pick.pair, least + 1)
    pick.peer.stream.destroy()
  }

  // Settled: the exact mesh again, one connection per pair, every shared core complete.
  await eventually(meshHolds, 'the mesh returns after the disconnects', 90_000)
  await Promise.all(replicas.map(({ core }) => core.download({ start: 0, end: BLOCKS }).done()))
  for (const { core, topic } of replicas) {
    expect(core.contiguousLength).toBe(BLOCKS)
    expect(b4a.toString((await core.get(BLOCKS - 1))!)).toBe(`topic ${topic} block ${BLOCKS - 1}`)
  }
  await eventually(
    () =>
      nodes.every(
        ({ networker }) =>
          (networker.swarm as unknown as { connections: Set<unknown> }).connections.size ===
          networker.peers.size,
      ),
    'no duplicate connections left in any swarm',
    30_000,
  )
  for (const { networker } of nodes) {
    const keys = [...networker.peers].map((p) => hex(p.remotePublicKey))
    expect(new Set(keys).size).toBe(keys.length)
  }
  expect(writers.length).toBe(TOPICS)
}, 240_000)
