import type { Clock } from '../core/clock.js'
import { bytesToHex, type KeyHex } from '../core/keys.js'
import { log } from './debug-log.js'
import { type LanCounters, zeroLanCounters } from './lan-counters.js'
import type { LanSettings } from './lan-options.js'
import { type LanDialTarget, LanQuerier } from './lan-querier.js'
import { LanResponder } from './lan-responder.js'
import { type LanSocket, type LanSocketFactory, openMdnsSocket } from './lan-socket.js'
import { DEFAULT_TCP_HOST } from './tcp-options.js'
import { messageOf, noop } from './util.js'

/*
 * LAN discovery (the `lan` option): topics announced and looked up on the local network with
 * mDNS, peers reached over direct TCP, with no DHT needed. This ties the parts together: one
 * mDNS socket, the responder (announce) and the querier (lookup) over it, and the topics as
 * the core's effects configure them. The socket is opened at the first join, once our key and
 * TCP port are known, and closed with the networker.
 */

export interface LanDiscoveryHooks {
  clock: Clock
  /** Wall-clock time (ms since 1970): what the label epochs are counted in. */
  wallNow?: () => number
  openSocket?: LanSocketFactory
  /** Our public key and the TCP port peers reach us on, once both are known. */
  identity(): Promise<{ publicKey: Uint8Array; port: number }>
  /** A peer of this key is listed now. */
  connected(remoteKey: KeyHex): boolean
  /** Dials the key over direct TCP; resolves once it is a peer, rejects if it does not become one. */
  dial(target: LanDialTarget): Promise<unknown>
}

interface Parts {
  socket: LanSocket
  responder: LanResponder
  querier: LanQuerier
}

/** What LAN discovery needs of the TCP listener (the networker's direct TCP transports). */
export interface LanListener {
  readonly tcpPort: number | null
  listen(at: { host: string; port: number }): Promise<unknown>
}

/**
 * The TCP port LAN answers give: the listener's, opened on every interface and any free port
 * if it is not listening yet. A `listen({ tcp })` of the user's may be binding at that moment
 * (our own listen is then refused): its port is awaited, for a few seconds at most.
 */
export async function lanTcpPort(listener: LanListener, clock: Clock): Promise<number> {
  if (listener.tcpPort === null) {
    await listener.listen({ host: DEFAULT_TCP_HOST, port: 0 }).catch(noop)
    for (let i = 0; listener.tcpPort === null && i < 100; i++) {
      await new Promise<void>((resolve) => clock.setTimeout(() => resolve(), 50))
    }
  }
  const port = listener.tcpPort
  if (port === null) throw new Error('no TCP listener for peers found on the LAN')
  return port
}

/** Our last query ids: a query of ours looped back is not answered by our own responder. */
const OWN_IDS = 32

export class LanDiscovery {
  readonly counters: LanCounters = zeroLanCounters()
  /** Each topic's configuration, as last joined. */
  private readonly wanted = new Map<KeyHex, { announce: boolean; lookup: boolean }>()
  private starting: Promise<Parts | null> | null = null
  private parts: Parts | null = null
  private socket: LanSocket | null = null
  private readonly ownIds: number[] = []
  private closed = false

  constructor(
    readonly settings: LanSettings,
    private readonly hooks: LanDiscoveryHooks,
  ) {}

  get timerCount(): number {
    if (this.parts === null) return 0
    return this.parts.responder.timerCount + this.parts.querier.timerCount
  }

  /** Whether the mDNS socket is open. */
  get active(): boolean {
    return this.parts !== null
  }

  /** Announces and/or looks the topic up (a configure; both false is a leave). */
  join(topic: KeyHex, announce: boolean, lookup: boolean): void {
    if (this.closed) return
    if (!announce && !lookup) {
      this.leave(topic)
      return
    }
    this.wanted.set(topic, { announce, lookup })
    if (this.parts !== null) this.apply(this.parts, topic)
    else void this.start()
  }

  leave(topic: KeyHex): void {
    this.wanted.delete(topic)
    this.parts?.responder.withdraw(topic)
    this.parts?.querier.stop(topic)
  }

  /**
   * A peer was lost (whatever its transport): the LAN is asked again at once for the topics it
   * shared with us, so a peer still on the LAN is found again in a moment, not a query interval.
   */
  peerLost(topics: readonly Uint8Array[]): void {
    this.parts?.querier.again(topics.map((t) => bytesToHex(t)))
  }

  /** A flush's lookup round for the topic (nothing to wait for if it is not looked up). */
  async flush(topic: KeyHex): Promise<void> {
    if (this.wanted.get(topic)?.lookup !== true) return
    const parts = await this.start()
    if (parts === null || this.wanted.get(topic)?.lookup !== true) return
    await parts.querier.round(topic)
  }

  /** Stops answering and asking, clears every timer and closes the socket. */
  async close(): Promise<void> {
    this.closed = true
    this.wanted.clear()
    this.parts?.responder.close()
    this.parts?.querier.close()
    this.parts = null
    await this.socket?.close()
  }

  private start(): Promise<Parts | null> {
    if (this.starting !== null) return this.starting
    let failure: Error | null = null
    const socket = (this.hooks.openSocket ?? openMdnsSocket)(
      { port: this.settings.port, interface: this.settings.interface },
      {
        query: (packet) => this.parts?.responder.onQuery(packet),
        response: (packet, from) => this.parts?.querier.onResponse(packet, from),
        malformed: () => {
          this.counters.lanPacketsMalformed++
        },
        failed: (err) => {
          failure = err
          if (log.lan.enabled) log.lan('mDNS socket failed: %s', err.message)
        },
      },
    )
    this.socket = socket
    this.starting = Promise.all([this.hooks.identity(), socket.ready])
      .then(([identity]) => {
        if (failure !== null || this.closed) {
          void socket.close()
          return null
        }
        const parts = this.build(socket, identity)
        this.parts = parts
        if (log.lan.enabled) log.lan('on the LAN, TCP port %d', identity.port)
        for (const topic of this.wanted.keys()) this.apply(parts, topic)
        return parts
      })
      .catch((err: unknown) => {
        // No TCP listener (or no identity): nobody could dial us back, so LAN discovery stays off.
        if (log.lan.enabled) log.lan('LAN discovery off: %s', messageOf(err))
        void socket.close()
        return null
      })
    return this.starting
  }

  private build(socket: LanSocket, identity: { publicKey: Uint8Array; port: number }): Parts {
    const { clock } = this.hooks
    const wallNow = this.hooks.wallNow ?? Date.now
    const responder = new LanResponder({
      clock,
      wallNow,
      counters: this.counters,
      maxAnswersPerSecond: this.settings.maxAnswersPerSecond,
      identity,
      send: (answers) => socket.answer(answers),
      ownQuery: (id) => this.ownIds.includes(id),
    })
    const querier = new LanQuerier({
      clock,
      wallNow,
      counters: this.counters,
      localKey: bytesToHex(identity.publicKey),
      queryInterval: this.settings.queryInterval,
      lookupWindow: this.settings.lookupWindow,
      connected: (key) => this.hooks.connected(key),
      announcing: (topic) => responder.announcing(topic),
      dial: (target) => this.hooks.dial(target),
      send: (questions) => socket.query(questions, this.nextId()),
    })
    return { socket, responder, querier }
  }

  private apply(parts: Parts, topic: KeyHex): void {
    const wanted = this.wanted.get(topic)
    if (wanted?.announce === true) parts.responder.announce(topic)
    else parts.responder.withdraw(topic)
    if (wanted?.lookup === true) parts.querier.lookup(topic)
    else parts.querier.stop(topic)
  }

  /** A fresh non-zero query id, remembered as ours. */
  private nextId(): number {
    const id = 1 + Math.floor(Math.random() * 0xfffe)
    this.ownIds.push(id)
    if (this.ownIds.length > OWN_IDS) this.ownIds.shift()
    return id
  }
}
