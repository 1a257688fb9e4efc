import crypto from 'hypercore-crypto'
import type { Message } from 'protomux'
import { type Extension, Networker, type SwarmConnection } from '../src/index.js'
import { Arrivals, idleStore } from './extension-throughput.js'
import {
  type Budget,
  interleaved,
  pairedRatio,
  roundRatios,
  seededBytes,
  until,
} from './harness.js'
import { BenchSwarm, opened, rawChannel, securePair } from './memory-swarm.js'
import {
  type Benchmark,
  type BenchmarkOutput,
  goal,
  type ProfileWorkload,
  type Row,
} from './types.js'

interface Star {
  broadcast(bytes: Uint8Array): void
  close(): Promise<void>
}

/** A hub networker connected to `n` leaf networkers, extension 'bench' open on every link. */
async function networkerStar(n: number, arrivals: Arrivals): Promise<Star> {
  const hubSwarm = new BenchSwarm()
  const hub = new Networker(idleStore, { swarm: hubSwarm })
  const ext = hub.registerExtension('bench', { encoding: 'binary' })
  const leaves: Networker[] = []
  const leafExts: Extension<Uint8Array>[] = []
  for (let i = 0; i < n; i++) {
    const swarm = new BenchSwarm()
    const leaf = new Networker(idleStore, { swarm })
    leaves.push(leaf)
    leafExts.push(
      leaf.registerExtension('bench', { encoding: 'binary', onmessage: arrivals.onmessage }),
    )
    BenchSwarm.connect(hubSwarm, swarm)
  }
  await until(
    () => ext.peers.length === n && leafExts.every((e) => e.peers.length === 1),
    `extension channels to ${n} peers`,
  )
  return {
    broadcast: (bytes) => {
      ext.broadcast(bytes)
    },
    close: async () => {
      await Promise.all([hub.close(), ...leaves.map((l) => l.close())])
    },
  }
}

/** The same star of secret-stream pairs, each with a bare Protomux message: the baseline. */
async function rawStar(n: number, arrivals: Arrivals): Promise<Star> {
  const hubKey = crypto.keyPair()
  const messages: Message<Uint8Array>[] = []
  const pairs: { a: SwarmConnection; b: SwarmConnection }[] = []
  for (let i = 0; i < n; i++) {
    const pair = securePair(hubKey, crypto.keyPair())
    pairs.push(pair)
    await Promise.all([opened(pair.a), opened(pair.b)])
    messages.push((await rawChannel(pair, arrivals.onmessage)).message)
  }
  return {
    broadcast: (bytes) => {
      for (const message of messages) message.send(bytes)
    },
    close: async () => {
      for (const { a, b } of pairs) {
        a.destroy()
        b.destroy()
      }
    },
  }
}

const PAYLOAD = 1024

/** `k` broadcasts, until every peer has received every one. */
function rounds(star: Star, arrivals: Arrivals, peers: number, k: number) {
  const payload = seededBytes(7, PAYLOAD)
  return async (): Promise<void> => {
    const all = arrivals.expect(peers * k)
    for (let i = 0; i < k; i++) star.broadcast(payload)
    await all
  }
}

async function run(budget: Budget): Promise<BenchmarkOutput> {
  const rows: Row[] = []
  const params: Record<string, number | string | boolean> = { 'message size (B)': PAYLOAD }
  for (const peers of [1, 16, 256]) {
    // About a thousand deliveries per operation whatever the fan-out.
    const k = Math.max(4, Math.floor((budget.quick ? 128 : 1024) / peers))
    params[`broadcasts per operation, ${peers} peers`] = k
    const netArrivals = new Arrivals()
    const rawArrivals = new Arrivals()
    const net = await networkerStar(peers, netArrivals)
    const raw = await rawStar(peers, rawArrivals)
    try {
      const t = await interleaved(
        [
          { name: `ext.broadcast to ${peers}`, fn: rounds(net, netArrivals, peers, k) },
          { name: `Protomux loop to ${peers}`, fn: rounds(raw, rawArrivals, peers, k) },
        ],
        budget,
      )
      const [netNs, rawNs] = t.ns as [number, number]
      const perSecond = (ns: number): number => (peers * k) / (ns / 1e9)
      const ratio = pairedRatio(t, 1, 0)
      rows.push({
        metric: `broadcast to ${peers} peer${peers === 1 ? '' : 's'}`,
        subject: perSecond(netNs),
        baseline: perSecond(rawNs),
        unit: 'deliveries/s',
        ratio,
        ratioLabel: 'networker ÷ raw',
        goal: goal('≥ 0.9', ratio >= 0.9),
        rounds: roundRatios(t.rounds[1] ?? [], t.rounds[0] ?? []),
        profile: `broadcast-${peers}`,
      })
    } finally {
      await Promise.all([net.close(), raw.close()])
    }
  }
  return {
    title: 'Broadcast',
    subjectLabel: 'ext.broadcast',
    baselineLabel: 'loop of raw Protomux sends to the same peers',
    rows,
    params,
    notes: [
      'A hub and N peers in this process, each link an in-memory Noise secret-stream pair; an operation is k broadcasts of 1 KiB and ends when every peer has received all k.',
    ],
  }
}

function profileBroadcast(peers: number): ProfileWorkload {
  return async (quick) => {
    const arrivals = new Arrivals()
    const star = await networkerStar(peers, arrivals)
    const step = rounds(star, arrivals, peers, Math.max(4, Math.floor(1024 / peers)))
    return async () => {
      for (let i = 0; i < (quick ? 20 : 200); i++) await step()
      await star.close()
    }
  }
}

export const broadcast: Benchmark = {
  name: 'broadcast',
  run,
  profiles: Object.fromEntries([1, 16, 256].map((n) => [`broadcast-${n}`, profileBroadcast(n)])),
}
