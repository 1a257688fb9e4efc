import type { EventEmitter } from 'node:events'
import type { Duplex } from 'node:stream'
import Hyperswarm from 'hyperswarm'

export interface KeyPair {
  publicKey: Uint8Array
  secretKey: Uint8Array
}

/** What one join returns: Hyperswarm's PeerDiscoverySession shape. */
export interface DiscoverySession {
  flushed(): Promise<unknown>
  refresh?(opts: { client: boolean; server: boolean }): Promise<unknown>
}

/** A connection as swarms hand it out: a Noise secret stream. */
export interface SwarmConnection extends Duplex {
  remotePublicKey: Uint8Array
  publicKey?: Uint8Array
  isInitiator: boolean
  rawStream?: unknown
}

/**
 * Anything with Hyperswarm's shape: the real swarm, or the simulator's.
 * `'connection'` is emitted with a Noise secret stream per new connection.
 */
export interface SwarmLike extends EventEmitter {
  keyPair: KeyPair
  join(topic: Buffer, opts: { client: boolean; server: boolean }): DiscoverySession
  leave(topic: Buffer): Promise<unknown>
  flush(): Promise<unknown>
  listen?(): Promise<unknown>
  destroy(): Promise<unknown>
}

export function isSwarmLike(value: unknown): value is SwarmLike {
  if (typeof value !== 'object' || value === null) return false
  const v = value as Record<string, unknown>
  return ['join', 'leave', 'flush', 'on', 'destroy'].every((m) => typeof v[m] === 'function')
}

/** The production swarm: Hyperswarm with every option the user gave passed through. */
export function createHyperswarm(opts: Record<string, unknown>): SwarmLike {
  return new Hyperswarm(opts) as unknown as SwarmLike
}
