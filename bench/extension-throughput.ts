import crypto from 'hypercore-crypto'
import { Networker } from '../src/index.js'
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

/** A store that replicates nothing: only the extension's traffic crosses the connection. */
export const idleStore = { replicate: (): void => {} }

/** Counts arrivals and wakes the sender once a target count is reached. */
export class Arrivals {
  private count = 0
  private target = Number.POSITIVE_INFINITY
  private wake: (() => void) | null = null

  readonly onmessage = (): void => {
    if (++this.count >= this.target) {
      const wake = this.wake
      this.wake = null
      this.target = Number.POSITIVE_INFINITY
      wake?.()
    }
  }

  /** Resolves once `n` more messages have arrived; call before sending them. */
  expect(n: number): Promise<void> {
    return new Promise((resolve) => {
      this.target = this.count + n
      this.wake = resolve
    })
  }
}

export interface Sender {
  send(bytes: Uint8Array): void
  close(): Promise<void>
}

/** Two networkers on in-memory swarms joined by one Noise pair, with extension 'bench' open both ways. */
export async function networkerSender(arrivals: Arrivals): Promise<Sender> {
  const swarmA = new BenchSwarm()
  const swarmB = new BenchSwarm()
  const a = new Networker(idleStore, { swarm: swarmA })
  const b = new Networker(idleStore, { swarm: swarmB })
  const extA = a.registerExtension('bench', { encoding: 'binary' })
  const extB = b.registerExtension('bench', { encoding: 'binary', onmessage: arrivals.onmessage })
  BenchSwarm.connect(swarmA, swarmB)
  await until(() => extA.peers.length === 1 && extB.peers.length === 1, 'extension channels')
  const peer = extA.peers[0]
  if (peer === undefined) throw new Error('bench: no extension peer')
  return {
    send: (bytes) => {
      extA.send(bytes, peer)
    },
    close: async () => {
      await Promise.all([a.close(), b.close()])
    },
  }
}

/** The same kind of pair with a bare Protomux message: the baseline. */
export async function rawSender(arrivals: Arrivals): Promise<Sender> {
  const pair = securePair(crypto.keyPair(), crypto.keyPair())
  await Promise.all([opened(pair.a), opened(pair.b)])
  const end = await rawChannel(pair, arrivals.onmessage)
  return {
    send: (bytes) => {
      end.message.send(bytes)
    },
    close: async () => {
      pair.a.destroy()
      pair.b.destroy()
    },
  }
}

/** One timed operation: `count` messages sent at once, until the last has arrived. */
function burst(sender: Sender, arrivals: Arrivals, payload: Uint8Array, count: number) {
  return async (): Promise<void> => {
    const all = arrivals.expect(count)
    for (let i = 0; i < count; i++) sender.send(payload)
    await all
  }
}

const SIZES: { label: string; bytes: number; perOp: number }[] = [
  { label: '64 B', bytes: 64, perOp: 2_000 },
  { label: '1 KiB', bytes: 1024, perOp: 1_000 },
  { label: '64 KiB', bytes: 64 * 1024, perOp: 64 },
]

async function run(budget: Budget): Promise<BenchmarkOutput> {
  const netArrivals = new Arrivals()
  const rawArrivals = new Arrivals()
  const net = await networkerSender(netArrivals)
  const raw = await rawSender(rawArrivals)
  const rows: Row[] = []
  const params: Record<string, number | string | boolean> = {}
  try {
    for (const size of SIZES) {
      const count = budget.quick ? Math.max(4, Math.round(size.perOp / 10)) : size.perOp
      params[`messages per operation, ${size.label}`] = count
      const payload = seededBytes(size.bytes, size.bytes)
      const t = await interleaved(
        [
          { name: `ext.send ${size.label}`, fn: burst(net, netArrivals, payload, count) },
          { name: `Protomux ${size.label}`, fn: burst(raw, rawArrivals, payload, count) },
        ],
        budget,
      )
      const [netNs, rawNs] = t.ns as [number, number]
      const perSecond = (ns: number): number => count / (ns / 1e9)
      const ratio = pairedRatio(t, 1, 0)
      rows.push({
        metric: `${size.label} messages`,
        subject: perSecond(netNs),
        baseline: perSecond(rawNs),
        unit: 'msg/s',
        ratio,
        ratioLabel: 'networker ÷ raw',
        goal: goal('≥ 0.9', ratio >= 0.9),
        rounds: roundRatios(t.rounds[1] ?? [], t.rounds[0] ?? []),
        profile: `send-${size.bytes}`,
      })
      rows.push({
        metric: `${size.label} messages`,
        subject: (perSecond(netNs) * size.bytes) / 1e6,
        baseline: (perSecond(rawNs) * size.bytes) / 1e6,
        unit: 'MB/s',
        ratio,
        ratioLabel: 'networker ÷ raw',
        goal: null,
      })
    }
  } finally {
    await Promise.all([net.close(), raw.close()])
  }
  return {
    title: 'Extension throughput',
    subjectLabel: 'ext.send (networker extension, binary)',
    baselineLabel: 'raw Protomux message on the same kind of pair',
    rows,
    params,
    notes: [
      'Each operation sends a burst of messages from one end and ends when the last one has arrived at the other (onmessage count); both ends live in this process over an in-memory Noise secret-stream pair.',
      'The networkers run on a Hyperswarm-shaped in-memory swarm (bench/memory-swarm.ts) with a store that replicates nothing. MB/s rows carry the same ratio as the msg/s rows above them.',
    ],
  }
}

function profileSend(bytes: number): ProfileWorkload {
  return async (quick) => {
    const arrivals = new Arrivals()
    const sender = await networkerSender(arrivals)
    const payload = seededBytes(bytes, bytes)
    // Enough traffic for a few seconds of samples at every size.
    const count = Math.min(quick ? 20_000 : 200_000, Math.floor(((quick ? 4 : 32) << 20) / bytes))
    const step = burst(sender, arrivals, payload, Math.ceil(count / 20))
    return async () => {
      for (let i = 0; i < 20; i++) await step()
      await sender.close()
    }
  }
}

export const extensionThroughput: Benchmark = {
  name: 'extension-throughput',
  run,
  profiles: Object.fromEntries(SIZES.map((s) => [`send-${s.bytes}`, profileSend(s.bytes)])),
}
