import type { NetworkerStats, PeerStats } from '../stats.js'
import { bytes } from './output.js'

/** Bytes per second each way, from the difference between two snapshots. */
export interface Rates {
  sent: number
  received: number
}

/** One peer as `--stats` shows it: its stats plus the rates since the previous refresh. */
export type PeerRow = PeerStats & { sendRate: number; receiveRate: number }

/**
 * Rates per peer (by remote key) and for the whole networker, between two snapshots taken
 * `seconds` apart. A peer new since the last one is measured from zero: its first rate
 * covers its whole life so far, so it is given against its age, not the interval.
 */
export function withRates(
  now: NetworkerStats,
  before: NetworkerStats | null,
  seconds: number,
): { peers: PeerRow[]; total: Rates } {
  const earlier = new Map((before?.peers ?? []).map((p) => [p.remoteKey, p]))
  const peers = now.peers.map((p) => {
    const prev = earlier.get(p.remoteKey)
    const span = prev === undefined ? Math.max(p.ageMs / 1000, 0.001) : Math.max(seconds, 0.001)
    return {
      ...p,
      sendRate: Math.max(0, p.bytesSent - (prev?.bytesSent ?? 0)) / span,
      receiveRate: Math.max(0, p.bytesReceived - (prev?.bytesReceived ?? 0)) / span,
    }
  })
  const span = Math.max(seconds, 0.001)
  const total =
    before === null
      ? { sent: 0, received: 0 }
      : {
          sent: Math.max(0, now.totals.bytesSent - before.totals.bytesSent) / span,
          received: Math.max(0, now.totals.bytesReceived - before.totals.bytesReceived) / span,
        }
  return { peers, total }
}

const rate = (n: number): string => `${bytes(Math.round(n))}/s`
const ms = (n: number | null): string => (n === null ? '-' : `${n} ms`)

function age(msValue: number): string {
  const s = Math.floor(msValue / 1000)
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
}

const COLUMNS: { title: string; width: number; cell: (p: PeerRow) => string }[] = [
  { title: 'PEER', width: 12, cell: (p) => p.remoteKey.slice(0, 12) },
  { title: 'ADDRESS', width: 21, cell: (p) => p.remoteAddress ?? '-' },
  { title: 'PATH', width: 8, cell: (p) => p.path },
  { title: 'AGE', width: 7, cell: (p) => age(p.ageMs) },
  { title: 'UP', width: 11, cell: (p) => rate(p.sendRate) },
  { title: 'DOWN', width: 11, cell: (p) => rate(p.receiveRate) },
  { title: 'SENT', width: 10, cell: (p) => bytes(p.bytesSent) },
  { title: 'RECEIVED', width: 10, cell: (p) => bytes(p.bytesReceived) },
  { title: 'RTT', width: 7, cell: (p) => ms(p.rttMs) },
  { title: 'CWND', width: 5, cell: (p) => (p.cwnd === null ? '-' : String(p.cwnd)) },
  { title: 'RETX', width: 5, cell: (p) => (p.retransmits === null ? '-' : String(p.retransmits)) },
  { title: 'TOPICS', width: 6, cell: (p) => String(p.topics.length) },
]

const row = (cells: string[]): string =>
  cells
    .map((c, i) => c.padEnd(COLUMNS[i]?.width ?? 0))
    .join('  ')
    .trimEnd()

/**
 * The live peer table of `--stats`: a summary line, a header and one row per peer (the
 * busiest first, at most `maxRows`, then how many more).
 */
export function renderPeerTable(
  stats: NetworkerStats,
  rows: { peers: PeerRow[]; total: Rates },
  maxRows = 20,
): string[] {
  const { totals } = stats
  const topics = Object.entries(totals.topics)
    .filter(([, n]) => n > 0)
    .map(([state, n]) => `${n} ${state}`)
    .join(', ')
  const summary = [
    `peers ${totals.peers}`,
    `topics ${topics === '' ? 0 : topics}`,
    `up ${rate(rows.total.sent)} (${bytes(totals.bytesSent)})`,
    `down ${rate(rows.total.received)} (${bytes(totals.bytesReceived)})`,
    `reconnects ${totals.reconnects}`,
  ].join('  ')
  if (rows.peers.length === 0) return [summary]
  const busiest = [...rows.peers].sort(
    (a, b) => b.sendRate + b.receiveRate - (a.sendRate + a.receiveRate),
  )
  const shown = busiest.slice(0, maxRows)
  const lines = [
    summary,
    row(COLUMNS.map((c) => c.title)),
    ...shown.map((p) => row(COLUMNS.map((c) => c.cell(p)))),
  ]
  if (busiest.length > shown.length) lines.push(`… and ${busiest.length - shown.length} more`)
  return lines
}
