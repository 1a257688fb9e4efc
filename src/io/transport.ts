import type { SwarmConnection } from './swarm.js'

/** The real transport under a connection: UDX over the DHT, plain TCP, or in-memory. */
export type TransportType = 'udx' | 'tcp' | 'memory' | 'unknown'

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

export function describeTransport(conn: SwarmConnection): TransportInfo {
  const raw = conn.rawStream as RawStreamShape | null | undefined
  if (raw === null || raw === undefined || typeof raw !== 'object') {
    return { type: 'unknown', remoteAddress: null }
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
  return { type: 'unknown', remoteAddress: null }
}
