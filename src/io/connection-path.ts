import { isIP } from 'node:net'
import type { SwarmConnection } from './swarm.js'

/**
 * How a connection reaches the remote, as far as this end can tell:
 * - `relayed`: through another node's blind relay (HyperDHT's `relayThrough`);
 * - `loopback`: to this machine;
 * - `lan`: to a private, link-local or unique-local address (HyperDHT's LAN shortcut, or a
 *   network without NAT between the two);
 * - `direct`: to a public address, whether found directly or after holepunching;
 * - `unknown`: not a UDP/TCP transport with an address (the simulator's, a custom swarm's).
 */
export type ConnectionPath = 'direct' | 'lan' | 'loopback' | 'relayed' | 'unknown'

interface AddressedStream {
  remoteHost?: unknown
  remotePort?: unknown
}

function addressOf(raw: unknown): string | null {
  if (typeof raw !== 'object' || raw === null) return null
  const { remoteHost, remotePort } = raw as AddressedStream
  return typeof remoteHost === 'string' && typeof remotePort === 'number'
    ? `${remoteHost}:${remotePort}`
    : null
}

/**
 * The raw streams of `ours` that go through a relay. HyperDHT says nothing on the stream
 * itself, but a blind-relayed stream is connected to the relay's address over the same UDX
 * socket as the DHT's own connection to that relay: so a stream of ours sharing its remote
 * address with a DHT stream that is none of our connections is taken as relayed. Computed
 * only when asked, from the DHT's `rawStreams` (absent on other swarms: nothing is relayed).
 */
export function relayedStreams(dht: unknown, ours: readonly SwarmConnection[]): Set<unknown> {
  const relayed = new Set<unknown>()
  const all = (dht as { rawStreams?: unknown } | null | undefined)?.rawStreams
  if (typeof all !== 'object' || all === null || !(Symbol.iterator in all)) return relayed
  const mine = new Set<unknown>(ours.map((c) => c.rawStream))
  const others = new Set<string>()
  for (const raw of all as Iterable<unknown>) {
    if (mine.has(raw)) continue
    const address = addressOf(raw)
    if (address !== null) others.add(address)
  }
  if (others.size === 0) return relayed
  for (const raw of mine) {
    const address = addressOf(raw)
    if (address !== null && others.has(address)) relayed.add(raw)
  }
  return relayed
}

/** The path of one connection, given the relayed raw streams found by `relayedStreams`. */
export function pathOf(conn: SwarmConnection, relayed: ReadonlySet<unknown>): ConnectionPath {
  const raw = conn.rawStream
  if (relayed.has(raw)) return 'relayed'
  if (typeof raw !== 'object' || raw === null) return 'unknown'
  const host =
    (raw as AddressedStream).remoteHost ?? (raw as { remoteAddress?: unknown }).remoteAddress
  return typeof host === 'string' ? scopeOf(host) : 'unknown'
}

/** Where an IP address is: this machine, a private network, or the public internet. */
export function scopeOf(host: string): 'direct' | 'lan' | 'loopback' | 'unknown' {
  const version = isIP(host)
  if (version === 4) return scopeOf4(host)
  if (version !== 6) return 'unknown'
  const h = host.toLowerCase()
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h)?.[1]
  if (mapped !== undefined) return scopeOf4(mapped)
  if (h === '::1') return 'loopback'
  // fc00::/7 unique-local, fe80::/10 link-local.
  if (/^f[cd][0-9a-f]{0,2}:/.test(h) || /^fe[89ab][0-9a-f]?:/.test(h)) return 'lan'
  return 'direct'
}

function scopeOf4(host: string): 'direct' | 'lan' | 'loopback' {
  const [a = 0, b = 0] = host.split('.').map(Number)
  if (a === 127) return 'loopback'
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return 'lan'
  if (a === 169 && b === 254) return 'lan'
  return 'direct'
}
