import b4a from 'b4a'
import { NetworkerCore } from '../src/core/networker-core.js'
import { Networker } from '../src/index.js'
import { idleStore } from './extension-throughput.js'
import { fmt } from './format.js'
import { type Budget, median, roundRatios, seededBytes, settledHeap } from './harness.js'
import { BenchSwarm } from './memory-swarm.js'
import { admit, admitPeers, type PeerRun, preparePeers } from './scale-peers.js'
import { type Benchmark, type BenchmarkOutput, type Curve, goal, type Row } from './types.js'

const KIB = 1024

interface PerItem {
  ns: number
  bytes: number
  /** Time per topic to leave them all again (close / leave). */
  closeNs: number
}

function topicKeys(count: number): Buffer[] {
  const bytes = seededBytes(count + 11, count * 32)
  return Array.from({ length: count }, (_, i) => bytes.subarray(i * 32, i * 32 + 32))
}

/** `count` configures, one after another, on a fresh networker over an in-memory swarm. */
async function configureTopics(keys: Buffer[]): Promise<PerItem> {
  const networker = new Networker(idleStore, { swarm: new BenchSwarm() })
  const before = await settledHeap()
  const ms = await configureAll(networker, keys)
  const after = await settledHeap()
  if (networker.allStatuses().length !== keys.length) throw new Error('bench: topics missing')
  const t0 = performance.now()
  await networker.close()
  const closeMs = performance.now() - t0
  return {
    ns: (ms * 1e6) / keys.length,
    bytes: (after - before) / keys.length,
    closeNs: (closeMs * 1e6) / keys.length,
  }
}

async function configureAll(networker: Networker, keys: Buffer[]): Promise<number> {
  const t0 = performance.now()
  for (const key of keys) await networker.configure(key, { announce: true, lookup: true })
  return performance.now() - t0
}

/** The baseline: the same joins and flushes by hand on the same kind of swarm. */
async function joinTopics(keys: Buffer[]): Promise<PerItem> {
  const swarm = new BenchSwarm()
  const before = await settledHeap()
  const t0 = performance.now()
  for (const key of keys) {
    await swarm.join(key, { server: true, client: true }).flushed()
    await swarm.flush()
  }
  const t1 = performance.now()
  const after = await settledHeap()
  if (swarm.sessions.size !== keys.length) throw new Error('bench: joins missing')
  const t2 = performance.now()
  for (const key of keys) await swarm.leave(key)
  await swarm.destroy()
  const closeMs = performance.now() - t2
  return {
    ns: ((t1 - t0) * 1e6) / keys.length,
    bytes: (after - before) / keys.length,
    closeNs: (closeMs * 1e6) / keys.length,
  }
}

/** The median of each figure over runs. */
function medianRun(runs: PerItem[]): PerItem {
  return {
    ns: median(runs.map((r) => r.ns)),
    bytes: median(runs.map((r) => r.bytes)),
    closeNs: median(runs.map((r) => r.closeNs)),
  }
}

/**
 * The core alone, fed the events the networker would feed it: the heap the pure core
 * holds per topic (configured, joined, flushed) or per peer (one kept connection), to
 * split the networker's figure between the core and the I/O around it.
 */
async function coreHeap(kind: 'topic' | 'peer', count: number): Promise<number> {
  const core = new NetworkerCore({ localKey: 'ff'.repeat(32), authenticate: false })
  const keys = topicKeys(count).map((k) => b4a.toString(k, 'hex'))
  const before = await settledHeap()
  let id = 1
  for (const key of keys) {
    if (kind === 'peer') {
      core.handle(
        { type: 'connection-opened', connectionId: id++, remoteKey: key, isInitiator: true },
        0,
      )
      continue
    }
    const effects = core.handle(
      { type: 'configure', requestId: id++, topic: key, announce: true, lookup: true, flush: true },
      0,
    )
    for (const effect of effects) {
      if (effect.type !== 'join-topic') continue
      for (const next of core.handle({ type: 'topic-joined', topic: key, op: effect.op }, 0)) {
        if (next.type === 'flush-swarm')
          core.handle({ type: 'swarm-flushed', topic: key, op: next.op }, 0)
      }
    }
  }
  const after = await settledHeap()
  const held =
    kind === 'peer' ? core.peers().length : core.statuses().filter((t) => t.flushed).length
  if (held !== count) throw new Error(`bench: the core holds ${held} ${kind}s of ${count}`)
  return (after - before) / count
}

/** The goals, per item at the middle count (10,000): time against the swarm's, heap absolute. */
const CONFIGURE_GOAL_US = 10
const CLOSE_GOAL_US = 5
const TOPIC_HEAP_GOAL = KIB
const PEER_HEAP_GOAL = 2 * KIB
/** Flat: the per-item figure at the largest count at most 1.25× that at the smallest. */
const FLAT = 1.25
const flatGoal = (ratio: number) => goal(`≤ ${FLAT} (flat)`, ratio <= FLAT)

/** Runs at a count per round: short runs are noisy, so small counts run several times. */
const repeatsAt = (count: number, quick: boolean) =>
  quick ? 1 : Math.max(1, Math.min(30, Math.round(30_000 / count)))

async function run(budget: Budget): Promise<BenchmarkOutput> {
  const topicCounts = budget.quick ? [100, 1_000, 10_000] : [1_000, 10_000, 100_000]
  const peerCounts = budget.quick ? [100, 1_000] : [1_000, 10_000]
  const [small, mid, large] = topicCounts as [number, number, number]
  // Nine rounds: with five, the 100k-vs-1k ratios flipped between two full runs (1.25, 1.66).
  const rounds = budget.quick ? 1 : 9
  const rows: Row[] = []
  const keysAt = new Map(topicCounts.map((n) => [n, topicKeys(n)]))
  const keys = (n: number) => keysAt.get(n) as Buffer[]
  // Warm the JIT on both paths so the first measured run is not the slow one.
  await configureTopics(keys(small))
  await joinTopics(keys(small))
  const net = new Map<number, PerItem[]>(topicCounts.map((n) => [n, []]))
  const base = new Map<number, PerItem[]>(topicCounts.map((n) => [n, []]))
  for (let r = 0; r < rounds; r++) {
    // Alternated so drift lands on every count and side alike: order reversed every round.
    const order = topicCounts.flatMap((n) => [
      async () => net.get(n)?.push(await repeated(() => configureTopics(keys(n)), n, budget)),
      async () => base.get(n)?.push(await repeated(() => joinTopics(keys(n)), n, budget)),
    ])
    if (r % 2 === 1) order.reverse()
    for (const step of order) await step()
  }
  const at = (m: Map<number, PerItem[]>, n: number) => m.get(n) as PerItem[]
  const med = (runs: PerItem[], key: keyof PerItem) => median(runs.map((x) => x[key]))
  // Per round, paired like every ratio: the networker's run over the baseline's.
  const paired = (n: number, key: keyof PerItem) =>
    roundRatios(
      at(net, n).map((x) => x[key]),
      at(base, n).map((x) => x[key]),
    )
  const growth = (key: keyof PerItem, side = net) =>
    roundRatios(
      at(side, large).map((x) => x[key]),
      at(side, small).map((x) => x[key]),
    )
  const swarmGrowth = (what: string, key: 'ns' | 'closeNs'): Row => ({
    metric: `${what}, ${large} vs ${small} topics`,
    subject: med(at(base, large), key) / 1000,
    baseline: med(at(base, small), key) / 1000,
    unit: 'µs/topic',
    ratio: median(growth(key, base)),
    ratioLabel: `${large} ÷ ${small}`,
    goal: null,
    rounds: growth(key, base),
  })
  const topicBytes = (n: number) => med(at(net, n), 'bytes') - med(at(base, n), 'bytes')
  const coreTopic = await coreHeap('topic', mid)
  const corePeer = await coreHeap('peer', mid)
  const split = (what: string, total: number, core: number, detail: string) =>
    `Of the ${fmt(total)} B per ${what}, the pure core alone (NetworkerCore fed the same events, no I/O) holds ${fmt(core)} B (${((100 * core) / total).toFixed(0)}%); the rest, ${fmt(total - core)} B, is the networker's I/O side. ${detail}`
  const configureUs = med(at(net, mid), 'ns') / 1000
  const closeUs = med(at(net, mid), 'closeNs') / 1000
  const heapGrowth = topicBytes(large) / topicBytes(small)
  rows.push(
    {
      metric: `configure, time per topic (${mid} topics)`,
      subject: configureUs,
      baseline: med(at(base, mid), 'ns') / 1000,
      unit: 'µs/topic',
      ratio: median(paired(mid, 'ns')),
      ratioLabel: 'networker ÷ swarm.join+flush',
      goal: goal(`≤ ${CONFIGURE_GOAL_US} µs`, configureUs <= CONFIGURE_GOAL_US),
      rounds: paired(mid, 'ns'),
      profile: 'topics',
    },
    {
      metric: `close (leaves every topic), time per topic (${mid} topics)`,
      subject: closeUs,
      baseline: med(at(base, mid), 'closeNs') / 1000,
      unit: 'µs/topic',
      ratio: median(paired(mid, 'closeNs')),
      ratioLabel: 'networker ÷ swarm.leave each',
      goal: goal(`≤ ${CLOSE_GOAL_US} µs`, closeUs <= CLOSE_GOAL_US),
      rounds: paired(mid, 'closeNs'),
      profile: 'topics',
    },
    {
      metric: `heap per topic (${mid} topics)`,
      subject: topicBytes(mid),
      baseline: med(at(base, mid), 'bytes'),
      unit: 'B/topic',
      ratio: topicBytes(mid) / med(at(base, mid), 'bytes'),
      ratioLabel: 'networker ÷ swarm session',
      goal: goal('≤ 1 KiB', topicBytes(mid) <= TOPIC_HEAP_GOAL),
      why: split(
        'topic',
        topicBytes(mid),
        coreTopic,
        "The core keeps one record per topic (its machine's state and context); the I/O side keeps the swarm session under the topic's key and the Buffer of the key the swarm was given.",
      ),
    },
    {
      metric: `configure time per topic, ${large} vs ${small} topics`,
      subject: med(at(net, large), 'ns') / 1000,
      baseline: med(at(net, small), 'ns') / 1000,
      unit: 'µs/topic',
      ratio: median(growth('ns')),
      ratioLabel: `${large} ÷ ${small}`,
      goal: flatGoal(median(growth('ns'))),
      rounds: growth('ns'),
      profile: 'topics',
    },
    {
      metric: `close time per topic, ${large} vs ${small} topics`,
      subject: med(at(net, large), 'closeNs') / 1000,
      baseline: med(at(net, small), 'closeNs') / 1000,
      unit: 'µs/topic',
      ratio: median(growth('closeNs')),
      ratioLabel: `${large} ÷ ${small}`,
      goal: flatGoal(median(growth('closeNs'))),
      rounds: growth('closeNs'),
    },
    // The same growth of the baseline alone, in the same rounds: how much of the networker's
    // is the runtime's (the generational collector copying what stays live, caches missed on
    // larger maps), which no code on top of the swarm avoids. Shown, not held to a goal.
    swarmGrowth('configure time per topic, swarm.join+flush alone', 'ns'),
    swarmGrowth('close time per topic, swarm.leave alone', 'closeNs'),
    {
      metric: `heap per topic, ${large} vs ${small} topics`,
      subject: topicBytes(large),
      baseline: topicBytes(small),
      unit: 'B/topic',
      ratio: heapGrowth,
      ratioLabel: `${large} ÷ ${small}`,
      goal: flatGoal(heapGrowth),
    },
  )

  const peerRuns = new Map<number, PeerRun>()
  await admitPeers(Math.max(10, (peerCounts[0] as number) / 10))
  for (const n of peerCounts) peerRuns.set(n, await admitPeers(n))
  const [fewPeers, manyPeers] = peerCounts as [number, number]
  const few = peerRuns.get(fewPeers) as PeerRun
  const many = peerRuns.get(manyPeers) as PeerRun
  const muxed = await admitPeers(manyPeers, true)
  rows.push(
    {
      metric: `heap per peer beyond its connection (${manyPeers} peers)`,
      subject: many.peerBytes,
      baseline: many.connectionBytes,
      unit: 'B/peer',
      ratio: many.peerBytes / many.connectionBytes,
      ratioLabel: 'networker ÷ connection',
      goal: goal('≤ 2 KiB', many.peerBytes <= PEER_HEAP_GOAL),
      why: split(
        'peer',
        many.peerBytes,
        corePeer,
        `The core's share is one peer record (its machine's state and context) and one connection record; the I/O side's is the connection entry, the peer object, the listeners on the stream, and what each feature keeps per connection (the extensions' and topics' links, liveness, the inbound guard). Nothing is said on these connections, so none has a Protomux: the links' pairings wait for one (src/io/lazy-mux.ts), made once the store makes it, the remote speaks or a channel of ours opens. Corestore's replicate makes it on every connection; the next row gives it to each connection first, and the networker's pairings on it then cost ${fmt(muxed.peerBytes - many.peerBytes)} B more per peer.`,
      ),
    },
    {
      metric: `heap per peer beyond its connection and the store's Protomux (${manyPeers} peers)`,
      subject: muxed.peerBytes,
      baseline: muxed.connectionBytes,
      unit: 'B/peer',
      ratio: muxed.peerBytes / muxed.connectionBytes,
      ratioLabel: 'networker ÷ connection with Protomux',
      goal: null,
    },
    {
      metric: `heap per peer, ${manyPeers} vs ${fewPeers} peers`,
      subject: many.peerBytes,
      baseline: few.peerBytes,
      unit: 'B/peer',
      ratio: many.peerBytes / few.peerBytes,
      ratioLabel: `${manyPeers} ÷ ${fewPeers}`,
      goal: flatGoal(many.peerBytes / few.peerBytes),
    },
    {
      metric: `time to admit a peer, ${manyPeers} vs ${fewPeers} peers`,
      subject: many.ns / 1000,
      baseline: few.ns / 1000,
      unit: 'µs/peer',
      ratio: many.ns / few.ns,
      ratioLabel: `${manyPeers} ÷ ${fewPeers}`,
      goal: flatGoal(many.ns / few.ns),
      profile: 'peers',
    },
  )
  const topicCurve = (figure: string, unit: string, value: (n: number) => [number, number]) => ({
    of: 'topics',
    figure,
    unit,
    networkerLabel: 'networker',
    baselineLabel: 'swarm alone',
    points: topicCounts.map((count) => {
      const [networker, baseline] = value(count)
      return { count, networker, baseline }
    }),
  })
  const curves: Curve[] = [
    topicCurve('time to configure', 'µs/topic', (n) => [
      med(at(net, n), 'ns') / 1000,
      med(at(base, n), 'ns') / 1000,
    ]),
    topicCurve('time to close', 'µs/topic', (n) => [
      med(at(net, n), 'closeNs') / 1000,
      med(at(base, n), 'closeNs') / 1000,
    ]),
    topicCurve('heap', 'B/topic', (n) => [topicBytes(n), med(at(base, n), 'bytes')]),
    {
      of: 'peers',
      figure: 'heap',
      unit: 'B/peer',
      networkerLabel: 'networker (beyond the connection)',
      baselineLabel: 'the connection alone',
      points: peerCounts.map((count) => {
        const p = peerRuns.get(count) as PeerRun
        return { count, networker: p.peerBytes, baseline: p.connectionBytes }
      }),
    },
    {
      of: 'peers',
      figure: 'time to admit',
      unit: 'µs/peer',
      networkerLabel: 'networker',
      baselineLabel: 'none',
      points: peerCounts.map((count) => {
        const p = peerRuns.get(count) as PeerRun
        return { count, networker: p.ns / 1000, baseline: null }
      }),
    },
  ]
  return {
    title: 'Scale and memory',
    subjectLabel: 'Networker on an in-memory swarm',
    baselineLabel:
      'the same joins on the swarm alone; the same connections held without a networker; the smallest count',
    rows,
    params: {
      topics: topicCounts.join(', '),
      peers: peerCounts.join(', '),
      'topic rounds': rounds,
      'runs per round (median)': topicCounts
        .map((n) => `${repeatsAt(n, budget.quick)} at ${n}`)
        .join(', '),
    },
    notes: [
      'Heap is heapUsed after forced full collections (--expose-gc), before and after; per item is the difference divided by the count.',
      'Topics: configure({ announce, lookup }) awaited one after another on a fresh networker; its heap per topic is what it holds beyond the swarm session the baseline run holds for the same join. Close: networker.close() with every topic joined, against swarm.leave of each.',
      "Peers: real Noise pairs are opened first and held (the baseline: heap per connection end, half a pair), then each is emitted as a swarm connection to a networker with a store that replicates nothing; the peer figure is the heap added by that, per peer. The row with the store's Protomux makes each connection's Protomux before the heap is taken, as a store replicating over Protomux (Corestore) does, and counts it with the connection: what is left is the networker's own; it has no goal, the row above holds the goal.",
      'Rounds alternate the counts and sides (order reversed every round); a small count runs several times per round and counts its median, as a short run is noisy. Flatness rows divide the per-item figure at the largest count by that at the smallest, each round paired; 1 is perfectly flat.',
    ],
    curves,
  }
}

/** The median of `repeats` runs (each a fresh networker or swarm). */
async function repeated(once: () => Promise<PerItem>, count: number, budget: Budget) {
  const runs: PerItem[] = []
  for (let i = 0; i < repeatsAt(count, budget.quick); i++) runs.push(await once())
  return medianRun(runs)
}

export const scale: Benchmark = {
  name: 'scale',
  run,
  profiles: {
    topics: async (quick) => {
      const keys = topicKeys(quick ? 1_000 : 10_000)
      const networker = new Networker(idleStore, { swarm: new BenchSwarm() })
      return async () => {
        await configureAll(networker, keys)
      }
    },
    peers: async (quick) => {
      const setup = await preparePeers(quick ? 300 : 3_000)
      return async () => {
        admit(setup)
      }
    },
  },
}
