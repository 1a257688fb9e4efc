import b4a from 'b4a'
import type { SwarmConnection } from '../src/io/swarm.js'
import type { SimNetwork } from './network.js'
import type { SimSwarm } from './swarm.js'

/**
 * How a lost TCP peer is dialed back (ms between tries), as the networker's own reconnection
 * dials a lost swarm peer (src/io/reconnect.ts): a LAN peer must come back within the same
 * bound, and the networker's reconnection dials through the DHT, which a LAN-only host lacks.
 */
const REDIAL_DELAYS: readonly number[] = [0, 250, 500, 1000, 2000, 2000, 2000]

/**
 * A host's direct side: its place on one LAN segment, LAN discovery there (what mDNS does:
 * a lookup finds the segment's hosts that announce the topic, and an announce reaches the
 * segment's hosts that look it up), and its TCP connections, which it hands to the host (the
 * SimNode adopts them into its networker as `type: 'tcp'`).
 *
 * Discovery follows the topics the host's swarm has joined, so the networker's joins and
 * leaves drive both transports. The end that looks up dials the end that announces; when
 * both could, only the larger key dials, so meeting on the LAN makes no duplicate of its own
 * (the faults make them: simultaneous and cross-transport dials, network.ts).
 */
export class LanPort {
  /** TCP connections per remote node id: opening or open. */
  readonly streams = new Map<number, Set<SwarmConnection>>()
  private readonly redials = new Map<number, unknown>()
  private stopped = false
  private readonly keyHex: string

  constructor(
    readonly swarm: SimSwarm,
    readonly segment: number,
    private readonly net: SimNetwork,
    /** Hands a new TCP connection (a secret stream, handshake under way) to the host. */
    private readonly onStream: (stream: SwarmConnection) => void,
  ) {
    this.keyHex = b4a.toString(swarm.keyPair.publicKey, 'hex')
  }

  get id(): number {
    return this.swarm.id
  }

  get alive(): boolean {
    return !this.stopped && this.swarm.alive
  }

  /** Timers still pending: redials of lost peers. */
  get timers(): number {
    return this.redials.size
  }

  /** Whether a TCP connection to that node is open or being opened. */
  connectedTo(remote: number): boolean {
    return (this.streams.get(remote)?.size ?? 0) > 0
  }

  /** The swarm looks the topic up (joined, or its periodic refresh): so does the LAN. */
  lookup(topic: string): void {
    if (!this.alive) return
    for (const other of this.net.segment(this.segment)) {
      if (other !== this && other.alive && this.shouldDial(other, topic)) this.dial(other)
    }
  }

  /** The swarm starts announcing the topic: the segment's hosts that look it up hear it. */
  announce(topic: string): void {
    if (!this.alive) return
    for (const other of this.net.segment(this.segment)) {
      if (other !== this && other.alive && other.shouldDial(this, topic)) other.dial(this)
    }
  }

  /** Stops discovery and redials: the host crashed or its networker closed. */
  stop(): void {
    this.stopped = true
    for (const timer of this.redials.values()) this.net.clock.clearTimeout(timer)
    this.redials.clear()
  }

  /** Called by the network with a TCP connection this port dialed or accepted. */
  adopt(remote: number, stream: SwarmConnection): void {
    let set = this.streams.get(remote)
    if (set === undefined) {
      set = new Set()
      this.streams.set(remote, set)
    }
    set.add(stream)
    stream.on('error', () => {})
    // A streamx stream says 'close' once: a plain listener, without once's wrapper and removal.
    stream.on('close', () => {
      set.delete(stream)
      if (set.size === 0) this.streams.delete(remote)
      if (stream.isInitiator && this.alive) this.redial(remote, 0)
    })
    this.onStream(stream)
  }

  private shouldDial(other: LanPort, topic: string): boolean {
    const mine = this.swarm.topics.get(topic)
    const theirs = other.swarm.topics.get(topic)
    if (mine?.client !== true || theirs?.server !== true) return false
    if (this.swarm.connectedTo(other.id)) return false
    return !(mine.server && theirs.client) || this.keyHex > other.keyHex
  }

  /** Whether either end still looks up a topic the other announces. */
  private wants(other: LanPort): boolean {
    for (const [topic, mine] of this.swarm.topics) {
      const theirs = other.swarm.topics.get(topic)
      if (theirs === undefined) continue
      if ((mine.client && theirs.server) || (mine.server && theirs.client)) return true
    }
    return false
  }

  private dial(other: LanPort): void {
    this.net.dialTcp(this.id, other.id)
  }

  private redial(remote: number, attempt: number): void {
    const base = REDIAL_DELAYS[attempt]
    if (base === undefined || this.redials.has(remote)) return
    const delay = base + this.net.prng.int(0, Math.max(1, Math.ceil(base / 4)))
    const timer = this.net.clock.setTimeout(() => {
      this.redials.delete(remote)
      const other = this.net.lanPorts.get(remote)
      if (!this.alive || other === undefined || !other.alive) return
      if (this.swarm.connectedTo(remote) || !this.wants(other)) return
      this.dial(other)
      this.redial(remote, attempt + 1)
    }, delay)
    this.redials.set(remote, timer)
  }
}
