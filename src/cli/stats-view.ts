import type { Networker } from '../networker.js'
import type { NetworkerStats } from '../stats.js'
import type { Output } from './output.js'
import { renderPeerTable, withRates } from './peer-table.js'

/** How often `--stats` refreshes the table or emits a `stats` event. */
export const STATS_INTERVAL_MS = 1000
/** Off a terminal, a table printed every this often (a pipe has no place to redraw). */
export const PLAIN_STATS_INTERVAL_MS = 10_000

/**
 * `--stats`: a live peer table at the bottom of a terminal, refreshed in place each second;
 * with --json a `stats` event each second (the networker's stats, each peer with its rates);
 * on any other output a table every ten seconds. Stats are computed only on these ticks.
 * Returns the function that stops it (and takes the table off the screen).
 */
export function startStatsView(networker: Networker, out: Output): () => void {
  let before: NetworkerStats | null = null
  let at = performance.now()
  let sincePlain = 0
  const tick = (): void => {
    const now = performance.now()
    const stats = networker.stats()
    const rows = withRates(stats, before, (now - at) / 1000)
    before = stats
    at = now
    if (out.json) {
      out.event(
        {
          event: 'stats',
          totals: { ...stats.totals, sendRate: rows.total.sent, receiveRate: rows.total.received },
          peers: rows.peers,
        },
        '',
      )
      return
    }
    if (out.tty) {
      out.panel(renderPeerTable(stats, rows))
      return
    }
    sincePlain += STATS_INTERVAL_MS
    if (sincePlain >= PLAIN_STATS_INTERVAL_MS) {
      sincePlain = 0
      out.event({}, renderPeerTable(stats, rows).join('\n'))
    }
  }
  tick()
  const timer = setInterval(tick, STATS_INTERVAL_MS)
  timer.unref()
  return () => {
    clearInterval(timer)
    out.panel([])
  }
}
