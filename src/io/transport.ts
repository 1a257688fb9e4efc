import { Socket } from 'node:net'
import type { SwarmConnection } from './swarm.js'

/**
 * The real transport under a connection: UDX over the DHT, plain TCP, in-memory (the
 * simulator), `stream` for an adopted stream of no named kind, or the name `adopt` was
 * given (`'websocket'`, `'webrtc'`, …). Open-ended so a caller's own transport name types.
 */
export type TransportType =
  | 'udx'
  | 'tcp'
  | 'memory'
  | 'stream'
  | 'unknown'
  | (string & NonNullable<unknown>)

export interface TransportInfo {
  type: TransportType
  /** `host:port` of the remote end of the transport, when it has one. */
  remoteAddress: string | null
}

interface RawStreamShape {
  remoteHost?: unknown
  remotePort?: unknown
  remoteAddress?: unknown
  udx?: unknown
  transport?: unknown
}

/**
 * Names given by `adopt`: what the stream under an adopted connection is. Kept beside the
 * connection rather than on it, so a stream we did not make is not written to. `named`:
 * the caller said it (`type`); otherwise the label is only the fallback, `'stream'`.
 */
const labels = new WeakMap<object, { type: TransportType; named: boolean }>()

/** `adopt` brought this connection in: `type` names its transport, or none was given. */
export function labelTransport(conn: SwarmConnection, type: TransportType | undefined): void {
  labels.set(conn, type === undefined ? { type: 'stream', named: false } : { type, named: true })
}

/**
 * The one place that decides a connection's transport: a TCP socket underneath is `tcp`
 * whoever made it; then the name `adopt` was given; then what the raw stream says of
 * itself (the simulator's, UDX's); an adopted stream of no known kind is `stream`.
 */
export function describeTransport(conn: SwarmConnection): TransportInfo {
  const raw = conn.rawStream as RawStreamShape | null | undefined
  const label = labels.get(conn)
  if (raw instanceof Socket) return { type: 'tcp', remoteAddress: socketAddress(raw) }
  if (label?.named === true) return { type: label.type, remoteAddress: addressOf(raw) }
  if (raw === null || raw === undefined || typeof raw !== 'object') {
    return { type: label?.type ?? 'unknown', remoteAddress: null }
  }
  // The simulator's and other custom streams name themselves.
  if (typeof raw.transport === 'string') {
    const address = typeof raw.remoteAddress === 'string' ? raw.remoteAddress : null
    return { type: raw.transport as TransportType, remoteAddress: address }
  }
  if ('udx' in raw && typeof raw.remoteHost === 'string') {
    return { type: 'udx', remoteAddress: `${raw.remoteHost}:${String(raw.remotePort)}` }
  }
  if (typeof raw.remoteAddress === 'string' && typeof raw.remotePort === 'number') {
    return { type: 'tcp', remoteAddress: `${raw.remoteAddress}:${raw.remotePort}` }
  }
  return { type: label?.type ?? 'unknown', remoteAddress: null }
}

/** `host:port` of a socket's remote end (an IPv6 host in brackets), or null once it is gone. */
export function socketAddress(socket: Socket): string | null {
  const host = socket.remoteAddress
  const port = socket.remotePort
  if (host === undefined || port === undefined) return null
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}

function addressOf(raw: RawStreamShape | null | undefined): string | null {
  if (raw === null || raw === undefined || typeof raw !== 'object') return null
  return typeof raw.remoteAddress === 'string' ? raw.remoteAddress : null
}
