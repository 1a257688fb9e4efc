/**
 * Whether the swarm's DHT can be reached. Offline, a join "succeeds" and a flush completes
 * with nothing found and nothing announced, so without this a user cannot tell an empty
 * topic from an unreachable network.
 *
 * - `connecting`: the DHT node is still bootstrapping.
 * - `online`: bootstrapped with at least one other DHT node in its routing table.
 * - `degraded`: the DHT's own health check sees many requests time out.
 * - `offline`: bootstrapping reached no DHT node, or the health check found none answering.
 * - `unknown`: the swarm has no HyperDHT we can watch (a custom or simulated swarm).
 */
export type DhtState = 'connecting' | 'online' | 'degraded' | 'offline' | 'unknown'

export interface DhtStatus {
  state: DhtState
  /** DHT nodes in the routing table (0 offline). */
  nodes: number
}

/** The part of dht-rpc's node (under HyperDHT) this reads; all of it public. */
interface WatchedDht {
  bootstrapped?: boolean
  online?: boolean
  degraded?: boolean
  destroyed?: boolean
  table?: { size?: number }
  on(event: string, listener: () => void): unknown
  removeListener(event: string, listener: () => void): unknown
}

function isWatchable(dht: unknown): dht is WatchedDht {
  return (
    typeof dht === 'object' &&
    dht !== null &&
    typeof (dht as WatchedDht).on === 'function' &&
    typeof (dht as WatchedDht).removeListener === 'function' &&
    typeof (dht as WatchedDht).bootstrapped === 'boolean'
  )
}

export function dhtStatusOf(dht: unknown): DhtStatus {
  if (!isWatchable(dht)) return { state: 'unknown', nodes: 0 }
  const nodes = dht.table?.size ?? 0
  if (!dht.bootstrapped) return { state: 'connecting', nodes }
  if (dht.online === false || nodes === 0) return { state: 'offline', nodes }
  if (dht.degraded === true) return { state: 'degraded', nodes }
  return { state: 'online', nodes }
}

/**
 * Calls `onchange` with the new status whenever the state changes (on the DHT's own
 * 'ready', 'network-update' and 'persistent' events). Returns a function that stops it.
 */
export function watchDht(dht: unknown, onchange: (status: DhtStatus) => void): () => void {
  if (!isWatchable(dht)) return () => {}
  let last = dhtStatusOf(dht).state
  const check = (): void => {
    const status = dhtStatusOf(dht)
    if (status.state === last) return
    last = status.state
    onchange(status)
  }
  const events = ['ready', 'network-update', 'persistent', 'network-change']
  for (const e of events) dht.on(e, check)
  return () => {
    for (const e of events) dht.removeListener(e, check)
  }
}
