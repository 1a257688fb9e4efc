import type { TopicState } from '../core/protocol.js'
import type { DhtState, DhtStatus } from '../io/dht-state.js'
import type { ExtensionCounts } from '../io/extension-tally.js'
import type { StatsTotals } from '../stats.js'

/**
 * What one scrape reads of the networkers on a registry that share a label set: their
 * totals added up, the round-trip times of all their peers, and how many are in each DHT
 * state. Several networkers may share a registry (and labels); a closed one leaves its
 * final counts behind, so no counter ever goes down.
 */
export interface MetricsSample {
  totals: StatsTotals
  /** Each peer's round-trip time now (ms), UDX peers only. */
  rttMs: number[]
  /** Networkers in each DHT state (1 for the one state of a single networker). */
  dht: Record<DhtState, number>
  /** DHT nodes in the routing tables. */
  dhtNodes: number
}

export const DHT_STATES: readonly DhtState[] = [
  'connecting',
  'online',
  'degraded',
  'offline',
  'unknown',
]

/** One live networker's sample. */
export function sampleOf(totals: StatsTotals, rttMs: number[], dht: DhtStatus): MetricsSample {
  const states = Object.fromEntries(DHT_STATES.map((s) => [s, 0])) as Record<DhtState, number>
  states[dht.state] = 1
  return { totals, rttMs, dht: states, dhtNodes: dht.nodes }
}

/**
 * What a closed networker leaves behind: its counters as they ended, and nothing in the
 * gauges (no peers, connections, topics or DHT of its own any more).
 */
export function retiredSample(last: MetricsSample): MetricsSample {
  const topics = Object.fromEntries(Object.keys(last.totals.topics).map((s) => [s, 0])) as Record<
    TopicState,
    number
  >
  const dht = Object.fromEntries(DHT_STATES.map((s) => [s, 0])) as Record<DhtState, number>
  return {
    totals: { ...last.totals, peers: 0, connections: 0, topics },
    rttMs: [],
    dht,
    dhtNodes: 0,
  }
}

/** The sum of two samples: counters and gauges added, round-trip times pooled. */
export function addSamples(a: MetricsSample, b: MetricsSample): MetricsSample {
  const dht = { ...a.dht }
  for (const s of DHT_STATES) dht[s] += b.dht[s]
  return {
    totals: addTotals(a.totals, b.totals),
    rttMs: [...a.rttMs, ...b.rttMs],
    dht,
    dhtNodes: a.dhtNodes + b.dhtNodes,
  }
}

function addTotals(a: StatsTotals, b: StatsTotals): StatsTotals {
  const sum = { ...a }
  for (const key of Object.keys(a) as (keyof StatsTotals)[]) {
    const x = a[key]
    const y = b[key]
    if (typeof x === 'number' && typeof y === 'number') (sum[key] as number) = x + y
  }
  sum.connectionsClosed = addRecords(a.connectionsClosed, b.connectionsClosed)
  sum.topics = addRecords(a.topics, b.topics)
  const extensions: Record<string, ExtensionCounts> = {}
  for (const [name, counts] of [...Object.entries(a.extensions), ...Object.entries(b.extensions)]) {
    const into = extensions[name]
    extensions[name] = into === undefined ? { ...counts } : addRecords(into, counts)
  }
  sum.extensions = extensions
  return sum
}

function addRecords<T extends object>(a: T, b: T): T {
  const sum = { ...a } as Record<string, number>
  for (const [key, value] of Object.entries(b) as [string, number][]) {
    sum[key] = (sum[key] ?? 0) + value
  }
  return sum as T
}

/** Smallest, middle and largest of the round-trip times, in seconds; empty for none. */
export function rttSummary(
  rttMs: readonly number[],
): { min: number; median: number; max: number } | null {
  if (rttMs.length === 0) return null
  const sorted = [...rttMs].sort((x, y) => x - y)
  const mid = sorted.length >> 1
  const median =
    sorted.length % 2 === 1
      ? (sorted[mid] as number)
      : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
  return {
    min: (sorted[0] as number) / 1000,
    median: median / 1000,
    max: (sorted[sorted.length - 1] as number) / 1000,
  }
}
