import b4a from 'b4a'
import type { Hypercore } from 'corestore'
import { expect, it } from 'vitest'
import { Prng } from '../../sim/prng.js'
import { hex } from '../helpers/assertions.js'
import { eventually, RealNetwork } from '../helpers/real-network.js'

const NODES = 10
const TOPICS = 15
const DISCONNECTS = 30
const BLOCKS = 20
/** Runs of the scenario: `npm run chaos` makes it 5 and reports the median recovery. */
const RUNS = Number(process.env.CHAOS_RUNS ?? 1)
/** CHAOS_RECONNECT=0 measures without the networker's own reconnection (Hyperswarm's alone). */
const RECONNECT = process.env.CHAOS_RECONNECT !== '0'
/** The goal for the median recovery (issue 19): asserted by `npm run chaos`, reported by CI. */
const GOAL_MS = 3000

interface RunResult {
  seed: number
  /** From the last forced disconnect until every node is back to the exact mesh and every replica has every block, the one appended mid-chaos included. */
  recoveryMs: number
  /** Samples (every 20 ms) in which some swarm held two open connections to one key. */
  duplicateSamples: number
  /** For each forced disconnect, how long until both ends listed each other again (ms). */
  healMs: number[]
}

/**
 * Hyperswarm's chaos test, stronger: 10 networkers, 15 cores each announced by a random
 * writer and looked up by random readers, 30 forced disconnects within 10 s, and a block
 * appended to every core halfway through. After settling, every peer set is exactly the
 * expected mesh, every shared core is fully replicated, and no node holds a duplicate
 * connection. Measured: how long after the last disconnect that holds. SEED replays a run.
 */
async function chaos(seed: number): Promise<RunResult> {
  const net = await RealNetwork.create(3)
  try {
    return await run(net, seed)
  } finally {
    await net.destroy()
  }
}

async function run(net: RealNetwork, seed: number): Promise<RunResult> {
  console.log(`chaos seed ${seed} (replay with SEED=${seed})`)
  const prng = new Prng(seed)
  const nodes = await Promise.all(
    Array.from({ length: NODES }, () => net.networker({ reconnect: RECONNECT })),
  )
  const keyOf = nodes.map((n) => hex(n.networker.keyPair.publicKey))

  // Each topic: one writer announcing its core, 2-4 readers looking it up.
  const expected = nodes.map(() => new Set<string>())
  const replicas: { core: Hypercore; reader: number; topic: number; writer: string }[] = []
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
      // Live: every block, the ones appended later too.
      replica.download({ start: 0, end: -1 })
      replicas.push({ core: replica, reader: r, topic: t, writer: keyOf[w]! })
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
  /** The peers whose streams were destroyed: none may still be listed once recovered. */
  const cut = new Set<unknown>()
  const meshHolds = () =>
    nodes.every(({ networker }, i) => {
      const keys = [...networker.peers].map((p) => hex(p.remotePublicKey)).sort()
      return keys.join() === [...expected[i]!].sort().join()
    })
  await eventually(meshHolds, 'the mesh forms', 60_000)

  // Duplicates, and how long each disconnect takes to heal, sampled all along.
  let duplicateSamples = 0
  const healing: { a: number; b: number; at: number }[] = []
  const healMs: number[] = []
  const listedAgain = (from: number, to: number): boolean => {
    const peer = nodes[from]!.networker.getPeer(keyOf[to]!)
    return peer !== null && !cut.has(peer)
  }
  const sampler = setInterval(() => {
    for (let i = healing.length - 1; i >= 0; i--) {
      const h = healing[i]!
      if (!listedAgain(h.a, h.b) || !listedAgain(h.b, h.a)) continue
      healMs.push(Date.now() - h.at)
      healing.splice(i, 1)
    }
    for (const { networker } of nodes) {
      const conns = (
        networker.swarm as unknown as { connections: Set<{ remotePublicKey: Buffer }> }
      ).connections
      const keys = [...conns].map((c) => hex(c.remotePublicKey))
      if (new Set(keys).size !== keys.length) duplicateSamples++
      const listed = [...networker.peers].map((p) => hex(p.remotePublicKey))
      expect(new Set(listed).size).toBe(listed.length)
    }
  }, 20)

  // 30 forced disconnects within 10 s, spread over the connected pairs so no pair is pushed
  // into Hyperswarm's long backoff. Halfway, every writer appends a block.
  const hits = new Map<string, number>()
  try {
    for (let d = 0; d < DISCONNECTS; d++) {
      if (d === DISCONNECTS / 2) {
        await Promise.all(writers.map((core, t) => core.append(b4a.from(`topic ${t} late block`))))
      }
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
      cut.add(pick.peer)
      healing.push({ a: pick.i, b: keyOf.indexOf(hex(pick.peer.remotePublicKey)), at: Date.now() })
      pick.peer.stream.destroy()
    }
    const chaosEnd = Date.now()

    // Recovered: every disconnect seen, the exact mesh, each replica replicating with its
    // writer, every block in.
    const noneCut = () =>
      nodes.every(({ networker }) => [...networker.peers].every((p) => !cut.has(p)))
    const replicating = () =>
      replicas.every(
        ({ core, writer }) =>
          core.contiguousLength === BLOCKS + 1 &&
          core.peers.some((p) => hex(p.remotePublicKey) === writer),
      )
    await eventually(
      () => noneCut() && meshHolds() && replicating(),
      'the mesh and replication return',
      90_000,
    )
    const recoveryMs = Date.now() - chaosEnd

    for (const { core, topic } of replicas) {
      expect(core.contiguousLength).toBe(BLOCKS + 1)
      expect(b4a.toString((await core.get(BLOCKS - 1))!)).toBe(`topic ${topic} block ${BLOCKS - 1}`)
      expect(b4a.toString((await core.get(BLOCKS))!)).toBe(`topic ${topic} late block`)
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
    expect(writers.length).toBe(TOPICS)
    await eventually(() => healing.length === 0, 'every disconnect healed', 10_000)
    return { seed, recoveryMs, duplicateSamples, healMs }
  } finally {
    clearInterval(sampler)
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

it(
  `10 networkers, 15 topics, 30 forced disconnects: the exact mesh and full replication return${RUNS > 1 ? ` (${RUNS} runs)` : ''}`,
  async () => {
    const first = Number(process.env.SEED ?? Math.floor(Math.random() * 2 ** 31))
    const results: RunResult[] = []
    for (let r = 0; r < RUNS; r++) results.push(await chaos(first + r))
    const times = results.map((r) => r.recoveryMs)
    const heals = results.flatMap((r) => r.healMs)
    console.log(
      `chaos: each forced disconnect healed (both ends list each other again) in median ${median(heals)} ms, at most ${Math.max(...heals)} ms (${heals.length} disconnects)`,
    )
    console.log(
      `chaos recovery after the last disconnect (reconnect ${RECONNECT ? 'on' : 'off'}): ${times.map((t) => `${(t / 1000).toFixed(2)} s`).join(', ')}; median ${(median(times) / 1000).toFixed(2)} s; samples with a duplicate connection: ${results.map((r) => r.duplicateSamples).join(', ')}`,
    )
    // Five runs are a measurement (npm run chaos); one, on a CI machine busy with other tests,
    // is not, and only the recovery itself is asserted there.
    if (RUNS >= 5 && RECONNECT) expect(median(times)).toBeLessThanOrEqual(GOAL_MS)
  },
  240_000 * RUNS,
)
