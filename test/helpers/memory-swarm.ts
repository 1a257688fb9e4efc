import { EventEmitter } from 'node:events'
import NoiseSecretStream from '@hyperswarm/secret-stream'
import crypto from 'hypercore-crypto'
import type { DiscoverySession, KeyPair, SwarmConnection, SwarmLike } from '../../src/index.js'

/**
 * A Hyperswarm-shaped swarm with no network: tests connect two of them with a real Noise
 * secret-stream pair, and can make join/leave/flush hang to exercise deadlines.
 */
export class MemorySwarm extends EventEmitter implements SwarmLike {
  readonly keyPair: KeyPair
  destroyed = false
  hangFlush = false
  hangLeave = false
  readonly streams = new Set<SwarmConnection>()

  constructor(keyPair: KeyPair = crypto.keyPair()) {
    super()
    this.keyPair = keyPair
  }

  join(): DiscoverySession {
    return { flushed: async () => {}, refresh: async () => {} }
  }

  leave(): Promise<void> {
    return this.hangLeave ? new Promise(() => {}) : Promise.resolve()
  }

  flush(): Promise<void> {
    return this.hangFlush ? new Promise(() => {}) : Promise.resolve()
  }

  async destroy(): Promise<void> {
    this.destroyed = true
    for (const s of this.streams) s.destroy()
  }

  /** Connects two swarms with one real Noise stream pair; `a` dials. */
  static connect(a: MemorySwarm, b: MemorySwarm): { a: SwarmConnection; b: SwarmConnection } {
    const sa = new NoiseSecretStream(true, null, {
      keyPair: a.keyPair,
    }) as unknown as SwarmConnection
    const sb = new NoiseSecretStream(false, null, {
      keyPair: b.keyPair,
    }) as unknown as SwarmConnection
    const ra = sa.rawStream as NodeJS.ReadWriteStream
    const rb = sb.rawStream as NodeJS.ReadWriteStream
    ra.pipe(rb).pipe(ra)
    for (const [swarm, stream] of [
      [a, sa],
      [b, sb],
    ] as const) {
      swarm.streams.add(stream)
      stream.on('error', () => {})
      stream.once('close', () => swarm.streams.delete(stream))
      // Hyperswarm emits a connection once its handshake is done.
      ;(stream as unknown as { opened: Promise<boolean> }).opened.then((ok) => {
        if (ok && !swarm.destroyed) swarm.emit('connection', stream, { topics: [] })
      })
    }
    return { a: sa, b: sb }
  }
}
