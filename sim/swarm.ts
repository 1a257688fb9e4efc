import { EventEmitter } from 'node:events'
import NoiseSecretStream from '@hyperswarm/secret-stream'
import b4a from 'b4a'
import type { DiscoverySession, KeyPair, SwarmConnection, SwarmLike } from '../src/io/swarm.js'
import { noop } from '../src/io/util.js'
import type { LanPort } from './lan.js'
import type { SimNetwork } from './network.js'

interface TopicState {
  server: boolean
  client: boolean
  refresh: unknown
}

/**
 * A Hyperswarm-shaped swarm on the simulated network. Like Hyperswarm it announces and
 * looks up topics on the DHT, dials every node it finds unless it already has a
 * connection (open or being opened) to it, re-dials a dropped peer while a topic still
 * wants it, and emits `'connection'` with a real Noise secret stream once the handshake is
 * done. It does not dedup: the networker's core does.
 */
export class SimSwarm extends EventEmitter implements SwarmLike {
  readonly keyPair: KeyPair
  readonly address: string
  destroyed = false
  crashed = false
  /**
   * Whether this host reaches the DHT (and so UDX connections): false while it is cut off
   * from it (a LAN-only partition), or always when the network has no DHT.
   */
  dhtReachable = true
  /** The host's LAN side, if it is on a segment: its joins drive LAN discovery too. */
  lan: LanPort | null = null
  readonly topics = new Map<string, TopicState>()
  /** Streams per remote node id: opening or open. */
  readonly streams = new Map<number, Set<SwarmConnection>>()
  private pendingOps = 0
  /** The last announce or unannounce per topic: the next one waits for it, so they land in order. */
  private readonly dhtChain = new Map<string, Promise<void>>()
  /** Failed or short-lived attempts per remote node, for the exponential backoff. */
  private readonly attempts = new Map<number, number>()
  private flushWaiters: (() => void)[] = []

  constructor(
    readonly id: number,
    keyPair: KeyPair,
    private readonly net: SimNetwork,
  ) {
    super()
    this.keyPair = keyPair
    this.address = `sim:${id}`
  }

  get alive(): boolean {
    return !this.destroyed && !this.crashed
  }

  join(topic: Buffer, opts: { client: boolean; server: boolean }): DiscoverySession {
    const key = b4a.toString(topic, 'hex')
    const existing = this.topics.get(key)
    const state: TopicState = existing ?? { server: false, client: false, refresh: null }
    this.topics.set(key, state)
    let done = this.apply(key, state, opts)
    return {
      flushed: () => done,
      refresh: (next) => {
        done = this.apply(key, state, next)
        return done
      },
    }
  }

  async leave(topic: Buffer): Promise<void> {
    const key = b4a.toString(topic, 'hex')
    const state = this.topics.get(key)
    if (state === undefined) return
    this.topics.delete(key)
    this.net.clock.clearTimeout(state.refresh)
    if (state.server) await this.track(this.dhtOp(key, 'unannounce'))
  }

  /**
   * Back on the DHT: unannounces that could not reach it are made now (a record it left
   * behind would otherwise outlive the host's interest in the topic).
   */
  dhtBack(): void {
    for (const topic of this.net.dht.recordsOf(this.id)) {
      if (this.topics.get(topic)?.server !== true) void this.track(this.dhtOp(topic, 'unannounce'))
    }
  }

  async flush(): Promise<void> {
    await this.net.slowFlush()
    if (this.pendingOps === 0) return
    await new Promise<void>((resolve) => this.flushWaiters.push(resolve))
  }

  async listen(): Promise<void> {}

  async destroy(): Promise<void> {
    if (this.destroyed) return
    const unannounce = [...this.topics]
      .filter(([, s]) => s.server)
      .map(([t]) => this.dhtOp(t, 'unannounce'))
    for (const state of this.topics.values()) this.net.clock.clearTimeout(state.refresh)
    this.topics.clear()
    this.destroyed = true
    this.lan?.stop()
    this.net.cutAll(this.id, 'destroyed')
    await Promise.all(unannounce)
    this.releaseFlushes()
  }

  /** Dies without a word: no unannounce, links cut, timers gone. */
  crash(): void {
    for (const state of this.topics.values()) this.net.clock.clearTimeout(state.refresh)
    this.topics.clear()
    this.crashed = true
    this.lan?.stop()
    this.net.cutAll(this.id, 'crashed')
    this.releaseFlushes()
  }

  /**
   * Hyperswarm's direct dial of a key, as the networker's reconnection uses it: the live node
   * with that key is dialed now unless a connection to it exists or is being made. Once per
   * call: the networker calls again on its own schedule, so nothing is left to stop.
   */
  joinPeer(publicKey: Uint8Array): void {
    if (!this.alive) return
    for (const other of this.net.swarmsWithKey(publicKey)) {
      if (other === this || !other.alive) continue
      if (!this.connectedTo(other.id)) this.dial(other.id, [])
      return
    }
  }

  leavePeer(_publicKey: Uint8Array): void {}

  /**
   * Whether this host already has a connection, open or opening, to that node: over UDX (its
   * own) or over TCP (its LAN side's). Hyperswarm knows only its own; the simulator assumes
   * the host's dialers know of each other's connections, so two transports race only when
   * the faults make them (network.ts).
   */
  connectedTo(remote: number): boolean {
    return (this.streams.get(remote)?.size ?? 0) > 0 || this.lan?.connectedTo(remote) === true
  }

  /** Called by the network with a stream this swarm dialled or accepted. */
  adopt(remote: number, stream: SwarmConnection, topics: Buffer[]): void {
    let set = this.streams.get(remote)
    if (set === undefined) {
      set = new Set()
      this.streams.set(remote, set)
    }
    set.add(stream)
    stream.on('error', noop)
    const opened = (stream as unknown as { opened: Promise<boolean> }).opened
    if (stream.isInitiator) this.pendingOps++
    let openedAt = -1
    opened.then((ok) => {
      if (stream.isInitiator) this.opDone()
      if (ok && this.alive && !stream.destroyed) {
        openedAt = this.net.clock.now()
        this.emit('connection', stream, { topics })
      }
    })
    // One listener for what were two in a row: the same work in the same order, one closure.
    // 'close' comes once (a streamx stream): no once wrapper to make and remove per connection.
    stream.on('close', () => {
      // A connection that lived a while resets the backoff; one that died young grows it.
      if (openedAt >= 0 && this.net.clock.now() - openedAt > 5000) this.attempts.delete(remote)
      else this.attempts.set(remote, (this.attempts.get(remote) ?? 0) + 1)
      set.delete(stream)
      if (set.size === 0) this.streams.delete(remote)
      if (stream.isInitiator && this.alive) this.redialLater(remote)
    })
  }

  /** Topics on which we look up and the remote announced: the ones worth a dial. */
  wantedTopicsWith(remote: number): string[] {
    const out: string[] = []
    for (const [topic, s] of this.topics)
      if (s.client && this.net.dht.hasRecord(topic, remote)) out.push(topic)
    return out
  }

  private apply(
    topic: string,
    state: TopicState,
    opts: { client: boolean; server: boolean },
  ): Promise<void> {
    const work: Promise<unknown>[] = []
    const announcing = opts.server && !state.server
    if (announcing) work.push(this.track(this.dhtOp(topic, 'announce')))
    if (!opts.server && state.server) work.push(this.track(this.dhtOp(topic, 'unannounce')))
    state.server = opts.server
    state.client = opts.client
    if (opts.client) work.push(this.lookupAndDial(topic))
    if (announcing) this.lan?.announce(topic)
    if (opts.client) this.lan?.lookup(topic)
    this.net.clock.clearTimeout(state.refresh)
    this.scheduleRefresh(topic, state)
    return Promise.all(work).then(() => {})
  }

  private scheduleRefresh(topic: string, state: TopicState): void {
    // Like Hyperswarm's periodic refresh: re-announce (an announce may have been lost) and
    // look up again, so a healed partition or a restarted node is found.
    state.refresh = this.net.clock.setTimeout(() => {
      if (!this.alive || this.topics.get(topic) !== state) return
      if (state.server) this.track(this.dhtOp(topic, 'announce'))
      if (state.client) {
        void this.lookupAndDial(topic)
        this.lan?.lookup(topic)
      }
      this.scheduleRefresh(topic, state)
    }, this.net.refreshInterval)
  }

  private async lookupAndDial(topic: string): Promise<void> {
    const found = await this.track(this.net.dht.lookup(topic, this.id))
    if (!this.alive) return
    for (const remote of found) {
      if (remote === this.id || this.connectedTo(remote)) continue
      this.dial(remote, [topic])
    }
  }

  private dial(remote: number, topics: string[]): void {
    this.pendingOps++
    this.net.dial(
      this.id,
      remote,
      topics.map((t) => b4a.from(t, 'hex')),
      this.dialDone,
    )
  }

  /** What each dial calls once over (a promise job, as `.finally` on its promise ran it): one function. */
  private readonly dialDone = (): void => this.opDone()

  private redialLater(remote: number): void {
    const delay = this.net.backoff(this.attempts.get(remote) ?? 0)
    this.net.clock.setTimeout(() => {
      if (!this.alive || this.connectedTo(remote)) return
      const topics = this.wantedTopicsWith(remote)
      if (topics.length > 0) this.dial(remote, topics)
    }, delay)
  }

  /** Announces and unannounces of one topic run one after another, never overtaking. */
  private dhtOp(topic: string, op: 'announce' | 'unannounce'): Promise<void> {
    const previous = this.dhtChain.get(topic) ?? Promise.resolve()
    const next = previous.then(() =>
      op === 'announce'
        ? this.net.dht.announce(topic, this.id)
        : this.net.dht.unannounce(topic, this.id),
    )
    this.dhtChain.set(topic, next)
    return next
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.pendingOps++
    return p.finally(() => this.opDone())
  }

  private opDone(): void {
    this.pendingOps--
    if (this.pendingOps === 0) this.releaseFlushes()
  }

  private releaseFlushes(): void {
    const waiters = this.flushWaiters
    this.flushWaiters = []
    for (const w of waiters) w()
  }
}

/** Ephemeral key pairs for one connection's Noise handshake, one per end. */
export interface EphemeralKeys {
  a: KeyPair
  b: KeyPair
}

/**
 * Real Noise secret streams over two raw ends. Noise draws each end's ephemeral key pair at
 * random when it first needs it, and the handshake hash (which orders two connections between
 * the same ends, and which topic proofs are bound to) depends on it: a run with real Noise
 * would not replay from its seed. With `ephemeral`, each end's handshake uses the given pair
 * instead (set before the handshake starts, where noise-handshake looks for one already made).
 */
export function secretStreamPair(
  initiator: KeyPair,
  responder: KeyPair,
  rawA: unknown,
  rawB: unknown,
  ephemeral?: EphemeralKeys,
): { a: SwarmConnection; b: SwarmConnection } {
  const a = new NoiseSecretStream(true, rawA, { keyPair: initiator })
  const b = new NoiseSecretStream(false, rawB, { keyPair: responder })
  if (ephemeral !== undefined) {
    useEphemeral(a, ephemeral.a)
    useEphemeral(b, ephemeral.b)
  }
  return { a: a as unknown as SwarmConnection, b: b as unknown as SwarmConnection }
}

/** secret-stream's handshake state, made in its constructor: its Noise state keeps `e`. */
interface HandshakeHolder {
  _handshake: { noise: { e: KeyPair | null } } | null
}

function useEphemeral(stream: NoiseSecretStream, keyPair: KeyPair): void {
  const noise = (stream as unknown as HandshakeHolder)._handshake?.noise
  // Both made synchronously by the constructor when it is given a key pair; if a later
  // secret-stream made them otherwise, the run must say so rather than lose its replay.
  if (noise === undefined || noise.e !== null) {
    throw new Error('sim: cannot fix the Noise ephemeral key of this secret-stream version')
  }
  noise.e = keyPair
}
