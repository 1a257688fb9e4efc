import type { Socket } from 'node:net'
import type { Clock } from '../core/clock.js'
import type { NetworkerError } from '../core/errors.js'
import { bytesToHex, type KeyHex } from '../core/keys.js'
import type { Adopter } from './adopt.js'
import type { HandshakeCounters } from './adopt-counters.js'
import type { NetworkerPeer } from './peer.js'
import { dialTcp } from './tcp-dial.js'
import { DirectPeers } from './tcp-direct-peers.js'
import { TcpListener } from './tcp-listener.js'
import type { TcpListenAddress, TcpTarget } from './tcp-options.js'

/*
 * Direct TCP: the listener (`listen({ tcp })`), dials (`connect`, and LAN discovery's), and
 * the fixed peers of `directPeers`. Every TCP connection is a Noise secret stream over the
 * socket, handed to the adopter, so it meets the same authentication, dedup, replication,
 * extensions and liveness as the swarm's UDX connections.
 *
 * The interface other parts of the networker use (src/wiring.ts makes one `TcpTransports`
 * per networker, as `parts.transports`):
 *
 *   transports.dial({ host, port, publicKey?, topics? }): Promise<NetworkerPeer>
 *     Dials host:port over TCP as the Noise initiator. `publicKey` is the key expected (another
 *     one is closed: REMOTE_KEY_MISMATCH); when a peer of that key is listed already, nothing
 *     is dialed and that peer is the answer. `topics` (discovery keys) become the connection's
 *     `info.topics`, as a swarm lookup's would: the peer then counts as found for those topics
 *     in the flush barrier (`connections.foundFor`) and in its topics until it proves its own.
 *     Resolves to the peer listed for the remote key, whichever connection to it the dedup
 *     kept; rejects with a NetworkerError (DIAL_FAILED, HANDSHAKE_FAILED, HANDSHAKE_TIMEOUT,
 *     REMOTE_KEY_MISMATCH, AUTHENTICATION_FAILED, CONNECTION_CLOSED, NETWORKER_CLOSED).
 *   transports.tcpPort: number | null — the port the listener is bound to, or null.
 *   transports.tcpAddress: { host, port } | null — the bound address, or null.
 */

/** What `dial` is given: where, the key expected, and the topics it was found for. */
export interface TcpDialTarget extends TcpTarget {
  topics?: Uint8Array[]
}

export interface TcpTransportsHooks {
  clock: Clock
  adopter: Adopter
  /** Sockets refused over the caps are counted here. */
  counts: HandshakeCounters
  /** Bounds the TCP connect itself, as the adopter bounds the handshake after it. */
  handshakeTimeout: number
  maxPendingHandshakes: number
  maxPendingHandshakesPerHost: number
  directPeers: readonly TcpTarget[]
  open(): boolean
  peerOf(remoteKey: KeyHex): NetworkerPeer | null
  /** A listed peer was found again for these topics (a dial that found it connected). */
  foundAgain(peer: NetworkerPeer, topics: Uint8Array[]): void
  /** An incoming TCP connection failed before it became a connection (a coded error). */
  failed(err: NetworkerError, remoteAddress: string | null): void
}

export class TcpTransports {
  private readonly listener: TcpListener
  private readonly directPeers: DirectPeers
  /** Sockets of our dials still connecting (the handshake after is the adopter's). */
  private readonly connecting = new Set<Socket>()

  constructor(private readonly hooks: TcpTransportsHooks) {
    const { adopter } = hooks
    this.listener = new TcpListener({
      maxPending: hooks.maxPendingHandshakes,
      maxPendingPerHost: hooks.maxPendingHandshakesPerHost,
      secure: (socket) => adopter.open(socket, { initiator: false }),
      admit: (conn) => adopter.admit(conn, undefined),
      refused: () => hooks.counts.handshakesRefused++,
      failed: (err, address) => hooks.failed(err, address),
    })
    this.directPeers = new DirectPeers(hooks.directPeers, {
      clock: hooks.clock,
      dial: (target) => this.dial(target),
      open: hooks.open,
      connected: (key) => hooks.peerOf(key) !== null,
    })
  }

  get tcpAddress(): TcpListenAddress | null {
    const address = this.listener.address
    return address === null ? null : { ...address }
  }

  get tcpPort(): number | null {
    return this.listener.address?.port ?? null
  }

  /** Dial timers of the fixed peers (diagnostics). */
  get timerCount(): number {
    return this.directPeers.pending
  }

  /** Listens on TCP too; resolves to the bound address. */
  listen(at: TcpListenAddress): Promise<TcpListenAddress> {
    return this.listener.listen(at)
  }

  /** The identity is known: the fixed peers are dialed. */
  start(): void {
    this.directPeers.start()
  }

  /** See the header: dials one TCP peer, or answers with the key's listed peer. */
  async dial(target: TcpDialTarget): Promise<NetworkerPeer> {
    const { adopter, clock, handshakeTimeout } = this.hooks
    const topics = target.topics ?? []
    if (target.publicKey !== undefined) {
      const listed = this.hooks.peerOf(bytesToHex(target.publicKey))
      if (listed !== null) {
        if (topics.length > 0) this.hooks.foundAgain(listed, topics)
        return listed
      }
    }
    const socket = await dialTcp(target, {
      clock,
      timeout: handshakeTimeout,
      sockets: this.connecting,
    })
    const conn = await adopter.open(socket, {
      initiator: true,
      ...(target.publicKey === undefined ? {} : { publicKey: target.publicKey }),
    })
    return adopter.admit(conn, topics.length > 0 ? { topics: [...topics] } : undefined)
  }

  /** A peer was listed or unlisted: the fixed peers' redials follow. */
  added(peer: NetworkerPeer): void {
    this.directPeers.added(peer)
  }

  removed(peer: NetworkerPeer): void {
    this.directPeers.removed(peer)
  }

  /** The networker closes: no more dials, the listener and every socket it holds close. */
  close(): void {
    this.directPeers.stop()
    for (const socket of [...this.connecting]) socket.destroy()
    this.listener.close()
  }

  /** Sockets of our dials still connecting (diagnostics; their handshakes are the adopter's). */
  get connectingSockets(): number {
    return this.connecting.size
  }
}
