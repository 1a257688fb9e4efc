import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import createTestnet from '@hyperswarm/testnet'
import Corestore from 'corestore'
import crypto from 'hypercore-crypto'
import { measure } from 'mitata'
import { Registry } from 'prom-client'
import { Networker, type NetworkerOptions } from '../src/index.js'
import { LinkTally } from '../src/io/extension-tally.js'
import { NetworkerObserver } from '../src/io/observer.js'
import { Arrivals, idleStore, type Sender } from './extension-throughput.js'
import {
  type Budget,
  interleaved,
  median,
  pairedRatio,
  roundRatios,
  seededBytes,
  until,
} from './harness.js'
import { BenchSwarm, opened, securePair } from './memory-swarm.js'
import { type Benchmark, type BenchmarkOutput, goal, type Row } from './types.js'

/*
 * What seeing inside costs: the counting every networker does (stats() is computed from
 * it), a metrics registry nobody scrapes, and one scrape of a networker with many peers.
 */

type Mode = 'plain' | 'metrics' | 'uncounted'

/** A tally that counts nothing: what the extension path costs without its counting. */
const NOT_COUNTED = { sent() {}, received() {}, dropped() {}, snapshot: () => ({}), addTo() {} }

/** Swaps every extension link's tally for one that counts nothing (bench only). */
function stopCounting(networker: Networker): void {
  const { parts } = networker as unknown as {
    parts: { extensions: { links: Map<unknown, object> } }
  }
  const links = parts.extensions.links
  // The tally lives in what the link has learnt (made on first use: `k`).
  for (const link of links.values())
    (link as unknown as { k: { tally: unknown } }).k.tally = NOT_COUNTED
}

/** Two networkers over one in-memory Noise pair with extension 'bench' open both ways. */
async function sender(arrivals: Arrivals, mode: Mode): Promise<Sender> {
  const opts = (): NetworkerOptions => ({
    swarm: new BenchSwarm(),
    livenessTimeout: 0,
    ...(mode === 'metrics' ? { metrics: new Registry() } : {}),
  })
  const a = new Networker(idleStore, opts())
  const b = new Networker(idleStore, opts())
  const extA = a.registerExtension('bench', { encoding: 'binary' })
  const extB = b.registerExtension('bench', { encoding: 'binary', onmessage: arrivals.onmessage })
  BenchSwarm.connect(a.swarm as BenchSwarm, b.swarm as BenchSwarm)
  await until(() => extA.peers.length === 1 && extB.peers.length === 1, 'extension channels')
  if (mode === 'uncounted') for (const n of [a, b]) stopCounting(n)
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

function burst(s: Sender, arrivals: Arrivals, payload: Uint8Array, count: number) {
  return async (): Promise<void> => {
    const all = arrivals.expect(count)
    for (let i = 0; i < count; i++) s.send(payload)
    await all
  }
}

/** msg/s of ext.send with counting on (as shipped), a registry attached, and counting off. */
async function throughputRows(budget: Budget, params: Record<string, number>): Promise<Row[]> {
  const modes: Mode[] = ['plain', 'metrics', 'uncounted']
  const arrivals = modes.map(() => new Arrivals())
  const senders = await Promise.all(modes.map((m, i) => sender(arrivals[i] as Arrivals, m)))
  const rows: Row[] = []
  try {
    for (const size of [64, 1024]) {
      const count = budget.quick ? 200 : size === 64 ? 2_000 : 1_000
      params[`messages per operation, ${size} B`] = count
      const payload = seededBytes(size, size)
      const t = await interleaved(
        modes.map((m, i) => ({
          name: `${m} ${size} B`,
          fn: burst(senders[i] as Sender, arrivals[i] as Arrivals, payload, count),
        })),
        budget,
      )
      const perSecond = (i: number): number => count / ((t.ns[i] as number) / 1e9)
      // Throughput of a over b is b's time over a's.
      const row = (metric: string, subject: number, baseline: number, label: string): Row => {
        const ratio = pairedRatio(t, baseline, subject)
        return {
          metric,
          subject: perSecond(subject),
          baseline: perSecond(baseline),
          unit: 'msg/s',
          ratio,
          ratioLabel: label,
          goal: goal('≥ 0.99', ratio >= 0.99),
          rounds: roundRatios(t.rounds[baseline] ?? [], t.rounds[subject] ?? []),
        }
      }
      rows.push(
        row(`${size} B ext.send, counted (stats)`, 0, 2, 'counted ÷ not counted'),
        row(`${size} B ext.send, metrics registry, no scrape`, 1, 0, 'with ÷ without registry'),
        await countingShare(size, (t.ns[0] as number) / count, budget),
      )
    }
  } finally {
    await Promise.all(senders.map((s) => s.close()))
  }
  return rows
}

/**
 * The counting alone, timed in a tight loop (what one message adds: its sender's count and
 * its receiver's), against the time of one whole message as shipped: a share that the
 * noise of a shared machine cannot hide, unlike the end-to-end ratio above it.
 */
async function countingShare(size: number, messageNs: number, budget: Budget): Promise<Row> {
  const tally = new LinkTally()
  const stats = await measure(
    () => {
      tally.sent('bench', size)
      tally.received('bench', size)
    },
    { min_cpu_time: budget.minCpuMs * 1e6 },
  )
  const share = stats.p50 / messageNs
  return {
    metric: `${size} B: counting per message (sender + receiver)`,
    subject: stats.p50,
    baseline: messageNs,
    unit: 'ns',
    ratio: share,
    ratioLabel: 'counting ÷ one message',
    goal: goal('≤ 0.01', share <= 0.01),
  }
}

const BLOCK = 4096

/** configure → every block replicated, on a fresh local testnet, with or without metrics. */
async function transferMs(blocks: number, withMetrics: boolean): Promise<number> {
  const testnet = await createTestnet(3)
  const dirs = await Promise.all([0, 1].map(() => mkdtemp(join(tmpdir(), 'csn-bench-obs-'))))
  const [ws, rs] = dirs.map((d) => new Corestore(d)) as [Corestore, Corestore]
  const opts = (): NetworkerOptions => ({
    dht: testnet.createNode(),
    ...(withMetrics ? { metrics: new Registry() } : {}),
  })
  const writer = new Networker(ws, opts())
  const reader = new Networker(rs, opts())
  try {
    const core = ws.get({ name: 'obs' })
    await core.ready()
    for (let i = 0; i < blocks; i += 100) {
      const n = Math.min(100, blocks - i)
      await core.append(Array.from({ length: n }, (_, j) => seededBytes(i + j + 1, BLOCK)))
    }
    await writer.configure(core.discoveryKey, { announce: true, lookup: false })
    const replica = rs.get({ key: core.key })
    await replica.ready()
    const t0 = performance.now()
    await reader.configure(replica.discoveryKey, { announce: false, lookup: true })
    await replica.download({ start: 0, end: blocks }).done()
    return performance.now() - t0
  } finally {
    await Promise.all([writer.close(), reader.close()])
    await Promise.all([ws.close(), rs.close()])
    await testnet.destroy()
    for (const d of dirs) await rm(d, { recursive: true, force: true })
  }
}

/**
 * What one connection costs the counting over its whole life (opened, listed, unlisted,
 * closed with its transport's counts read), timed in a tight loop, against one end-to-end
 * transfer: the other share the run-to-run noise of a testnet cannot show.
 */
async function connectionShare(transferMs: number, budget: Budget): Promise<Row> {
  const observer = new NetworkerObserver(() => performance.now())
  const conn = {
    rawBytesRead: 1,
    rawBytesWritten: 1,
    rawStream: null,
    remotePublicKey: seededBytes(9, 32),
  } as never
  const peer = { remotePublicKey: seededBytes(9, 32), remoteAddress: null, type: 'udx' } as never
  const stats = await measure(
    () => {
      observer.opened()
      observer.peerAdded(peer)
      observer.peerRemoved(peer)
      observer.closing(conn, 'duplicate')
      observer.closed(conn)
    },
    { min_cpu_time: budget.minCpuMs * 1e6 },
  )
  const share = stats.p50 / (transferMs * 1e6)
  return {
    metric: 'counting per connection (open, list, unlist, close) ÷ one transfer',
    subject: stats.p50,
    baseline: transferMs * 1e6,
    unit: 'ns',
    ratio: share,
    ratioLabel: 'counting ÷ one transfer',
    goal: goal('≤ 0.01', share <= 0.01),
  }
}

async function endToEndRows(budget: Budget, params: Record<string, number>): Promise<Row[]> {
  const blocks = budget.quick ? 50 : 1000
  const reps = budget.quick ? 1 : 10
  params['end to end: blocks of 4 KiB'] = blocks
  params['end to end: runs per side'] = reps
  if (!budget.quick) {
    await transferMs(blocks, false)
    await transferMs(blocks, true)
  }
  const on: number[] = []
  const off: number[] = []
  for (let r = 0; r < reps; r++) {
    // Alternated, so drift on a shared machine lands on both sides.
    if (r % 2 === 0) {
      on.push(await transferMs(blocks, true))
      off.push(await transferMs(blocks, false))
    } else {
      off.push(await transferMs(blocks, false))
      on.push(await transferMs(blocks, true))
    }
  }
  const pairs = roundRatios(on, off)
  const ratio = median(pairs)
  const e2e: Row = {
    metric: `configure → all ${blocks} blocks, metrics registry, no scrape`,
    subject: median(on),
    baseline: median(off),
    unit: 'ms',
    ratio,
    ratioLabel: 'with ÷ without registry',
    goal: goal('≤ 1.01', ratio <= 1.01),
    rounds: pairs,
  }
  return [e2e, await connectionShare(median(off), budget)]
}

/** A networker with a registry and `count` peers over in-memory Noise pairs. */
async function crowd(count: number) {
  const local = crypto.keyPair(seededBytes(3, 32))
  const swarm = new BenchSwarm(local)
  const registry = new Registry()
  const networker = new Networker(idleStore, {
    swarm,
    metrics: registry,
    livenessTimeout: 0,
    reconnect: false,
  })
  const pairs: { a: unknown; b: { destroy(): void } }[] = []
  for (let i = 0; i < count; i += 64) {
    const batch = Array.from({ length: Math.min(64, count - i) }, () =>
      securePair(local, crypto.keyPair()),
    )
    await Promise.all(batch.flatMap((p) => [opened(p.a), opened(p.b)]))
    for (const p of batch) swarm.emit('connection', p.a, { topics: [] })
    pairs.push(...batch)
  }
  await until(() => networker.peers.size === count, `${count} peers`)
  return {
    networker,
    registry,
    close: async () => {
      for (const p of pairs) p.b.destroy()
      await networker.close()
    },
  }
}

async function scrapeRows(budget: Budget, params: Record<string, number>): Promise<Row[]> {
  const many = budget.quick ? 100 : 1000
  params['peers for the scrape'] = many
  const big = await crowd(many)
  const small = await crowd(1)
  try {
    const t = await interleaved(
      [
        { name: `scrape, ${many} peers`, fn: () => big.registry.metrics() },
        { name: 'scrape, 1 peer', fn: () => small.registry.metrics() },
        { name: `stats(), ${many} peers`, fn: () => big.networker.stats() },
        { name: 'stats(), 1 peer', fn: () => small.networker.stats() },
      ],
      budget,
      { rounds: budget.quick ? 2 : 8 },
    )
    const ms = (i: number): number => (t.ns[i] as number) / 1e6
    const row = (metric: string, a: number, b: number, limitMs: number): Row => ({
      metric,
      subject: ms(a),
      baseline: ms(b),
      unit: 'ms',
      ratio: pairedRatio(t, a, b),
      ratioLabel: `${many} peers ÷ 1 peer`,
      goal: goal(`≤ ${limitMs} ms at ${many} peers`, ms(a) <= limitMs),
      rounds: roundRatios(t.rounds[a] ?? [], t.rounds[b] ?? []),
    })
    return [
      row('one Prometheus scrape (registry.metrics())', 0, 1, 50),
      row('networker.stats()', 2, 3, 50),
    ]
  } finally {
    await Promise.all([big.close(), small.close()])
  }
}

async function run(budget: Budget): Promise<BenchmarkOutput> {
  const params: Record<string, number> = {}
  const rows = [
    ...(await throughputRows(budget, params)),
    ...(await endToEndRows(budget, params)),
    ...(await scrapeRows(budget, params)),
  ]
  return {
    title: 'Observability: the cost of stats and metrics',
    subjectLabel: 'networker with the feature (as shipped)',
    baselineLabel: 'the same networker without it',
    rows,
    params,
    notes: [
      "Counting (what stats() is computed from) is always on: 'counted ÷ not counted' swaps each extension link's tally for one that counts nothing, in the same process, interleaved with the shipped path. Nothing else runs per message.",
      "On a loaded 2-core machine those whole-path ratios vary by ±50% round to round, far more than the 1% they are held to; the 'counting per message' and 'counting per connection' rows time the counting alone in a tight loop and give its share of one message, or of one end-to-end transfer, directly.",
      'A metrics registry nobody scrapes runs nothing: its figures are computed at scrape time (collect()). Its rows compare networkers with and without one.',
      'End to end: a fresh createTestnet(3) per run, writer announcing, clock from the reader configure to download().done() of every block; runs alternate with and without a registry on both networkers.',
      'The scrape rows time registry.metrics() (every family, one sample per networker) and stats() (one entry per peer) over in-memory Noise pairs: UDX figures are null there, so a real swarm reads a few more fields per peer.',
    ],
  }
}

export const observability: Benchmark = { name: 'observability', run, profiles: {} }
