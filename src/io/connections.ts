import b4a from 'b4a'
import type { KeyHex } from '../core/keys.js'
import type { ConnectionId, CoreEvent, DropReason } from '../core/protocol.js'
import { type AuthenticateHook, runAuthenticate } from './authenticate.js'
import type { DriverClock } from './core-driver.js'
import { guardInbound, type InboundGuard, streamxCountsUnread } from './inbound-guard.js'
import { heard } from './lazy-mux.js'
import type { NetworkerObserver } from './observer.js'
import { ListedPeer, type NetworkerPeer, recordLists, topicsOf } from './peer.js'
import type { SwarmConnection } from './swarm.js'
import { describeTransport } from './transport.js'
import { asError, bytesOf, hexOf, noop } from './util.js'

/** What the networker needs of a store: Corestore's `replicate(stream)`. */
export interface ReplicatingStore {
  replicate(stream: SwarmConnection): unknown
}

/** Whether every connection's unread bytes are capped (see inbound-guard.ts). */
export type FloodGuardState = 'active' | 'unavailable'

export interface ConnectionTableOptions {
  store: ReplicatingStore
  /** Reports what happens on a connection to the core. */
  dispatch(event: CoreEvent): void
  onauthenticate: AuthenticateHook | null
  maxInboundBuffer: number
  clock: DriverClock
  /** Counts (and logs) each connection's opening, verdict and close, with its reason. */
  observer: NetworkerObserver
  /** A connection closed here, not by the core: it held too much unread, or could not replicate. */
  ownClose?(conn: SwarmConnection, reason: 'overflow' | 'failed'): void
  /** The core dropped this connection, for this reason (told before it is destroyed). */
  dropped?(conn: SwarmConnection, reason: DropReason): void
}

/** One open connection as stats see it (see src/stats.ts). */
export interface ConnectionView {
  conn: SwarmConnection
  peer: NetworkerPeer | null
}

interface ConnectionEntry {
  connectionId: ConnectionId
  conn: SwarmConnection
  remotePublicKey: Buffer
  /** The key in hex, made once: the core's events and the peer index share this string. */
  key: KeyHex
  peer: NetworkerPeer | null
  sawData: boolean
  guard: InboundGuard
  /** The swarm's record of the peer: its `topics` grow as our lookups find it again. */
  info: { topics?: unknown } | undefined
  /** `store.replicate` threw: the connection is being destroyed and is never listed. */
  failed: boolean
  /** Its authentication verdict was counted (the hook's, or the core's deadline). */
  judged: boolean
  /** Topics it was found for after it connected, by other means than its swarm (a LAN answer). */
  alsoFound: Set<KeyHex> | null
}

/**
 * Every connection the swarm hands over, from acceptance to close, and the peers listed
 * from them. A connection is accepted here (`accept`, the swarm's 'connection' listener):
 * guarded against floods, watched for its first data and its close, and reported to the
 * core, which decides; this table then authenticates, keeps (replicates), drops, lists or
 * unlists it as the core's effects say. Peers are indexed by remote key, so a lookup by key
 * costs the same with one peer or ten thousand.
 */
export class ConnectionTable {
  /** The current peers, one per remote key: the networker's public `peers`. */
  readonly peers = new Set<NetworkerPeer>()
  private readonly peersByKey = new Map<KeyHex, NetworkerPeer>()
  private readonly entries = new Map<ConnectionId, ConnectionEntry>()
  /** Each open connection's entry, for the listeners every connection shares. */
  private readonly byStream = new WeakMap<SwarmConnection, ConnectionEntry>()
  private nextConnectionId = 1
  private guardComplete: boolean

  constructor(private readonly opts: ConnectionTableOptions) {
    this.guardComplete = streamxCountsUnread()
  }

  /** Connections open now, listed as peers or not. */
  get size(): number {
    return this.entries.size
  }

  /** 'unavailable' once streamx, or any connection, lacked the count the flood guard reads. */
  get floodGuard(): FloodGuardState {
    return this.guardComplete ? 'active' : 'unavailable'
  }

  /**
   * The swarm's 'connection' listener: where every connection is accepted. `hex` is the
   * remote key in hex when the caller made it already.
   */
  readonly accept = (conn: SwarmConnection, info?: { topics?: unknown }, hex?: KeyHex): void => {
    const { dispatch, observer } = this.opts
    const connectionId = this.nextConnectionId++
    // The stream's own key when it is a Buffer (secret-stream's is): it holds it anyway.
    const key = conn.remotePublicKey as Uint8Array
    const remotePublicKey = b4a.isBuffer(key) ? key : b4a.from(key)
    const guard = guardInbound(conn, this.opts.maxInboundBuffer, this.overflowed, this.heardFrom)
    const entry: ConnectionEntry = {
      connectionId,
      conn,
      remotePublicKey,
      key: hex ?? hexOf(remotePublicKey),
      peer: null,
      sawData: false,
      info,
      failed: false,
      judged: false,
      alsoFound: null,
      guard,
    }
    this.entries.set(connectionId, entry)
    this.byStream.set(conn, entry)
    observer.opened()
    // Stream errors end in 'close'; a listener keeps them from becoming uncaught.
    conn.on('error', noop)
    if (!guard.complete) this.guardComplete = false
    conn.on('close', this.onclose)
    // 'readable' reports buffered data without consuming it, so nothing is lost before
    // the store starts reading.
    conn.on('readable', this.ondata)
    // Equal at both ends: orders two connections one end dialed (over two transports, say).
    // Two literals, not a spread of an optional part: the spread made two objects more.
    const hash = (conn as { handshakeHash?: unknown }).handshakeHash
    const remoteKey = entry.key
    const isInitiator = conn.isInitiator
    dispatch(
      hash instanceof Uint8Array
        ? {
            type: 'connection-opened',
            connectionId,
            remoteKey,
            isInitiator,
            handshakeHash: hexOf(hash),
          }
        : { type: 'connection-opened', connectionId, remoteKey, isInitiator },
    )
  }

  /** Asks the user's hook about the connection; the verdict goes to the core. */
  authenticate(connectionId: ConnectionId): void {
    const entry = this.entries.get(connectionId)
    const hook = this.opts.onauthenticate
    if (entry === undefined || hook === null) return
    // Named, not spread: copying describeTransport's object by spread was this function's
    // own largest cost in the simulator's profile, once per connection.
    const { type, remoteAddress } = describeTransport(entry.conn)
    const context = {
      type,
      remoteAddress,
      isInitiator: entry.conn.isInitiator,
      topics: topicsOf(entry.info).map((t) => b4a.from(t)),
    }
    runAuthenticate(hook, entry.remotePublicKey, context).then((accepted) => {
      // Past the core's deadline the connection is rejected already: nothing to tell.
      if (entry.judged) return
      entry.judged = true
      this.opts.observer.authenticated(entry.remotePublicKey, accepted)
      this.opts.dispatch({ type: 'connection-authenticated', connectionId, accepted })
    })
  }

  /** The core keeps this connection: the store replicates over it. */
  keep(connectionId: ConnectionId): void {
    const entry = this.entries.get(connectionId)
    if (entry === undefined) return
    try {
      this.opts.store.replicate(entry.conn)
    } catch (err) {
      // A store that cannot replicate this stream: drop it rather than keep a dead peer. The
      // core still holds it as kept until the close arrives; it is never listed meanwhile.
      entry.failed = true
      this.opts.observer.closing(entry.conn, 'failed')
      this.opts.ownClose?.(entry.conn, 'failed')
      entry.conn.destroy(asError(err))
      return
    }
    // A reader (the store's Protomux, the user's) makes the stream flow, and a flowing stream
    // may not say 'readable'. The guard hears every push anyway; without it, the first data
    // is heard as 'data' (which reads the stream: the Protomux is then made at once, below).
    if (!entry.sawData && !entry.guard.hears) {
      heard(entry.conn)
      entry.conn.on('data', this.ondata)
    }
  }

  /** Closes a connection the core dropped; the reason is what its close is counted under. */
  drop(connectionId: ConnectionId, reason: DropReason): void {
    const entry = this.entries.get(connectionId)
    if (entry === undefined) return
    // Rejected with no verdict heard: the hook did not answer before the core's deadline.
    if (reason === 'rejected' && !entry.judged && this.opts.onauthenticate !== null) {
      entry.judged = true
      this.opts.observer.authenticated(entry.remotePublicKey, false)
    }
    this.opts.observer.closing(entry.conn, reason)
    this.opts.dropped?.(entry.conn, reason)
    entry.conn.destroy()
  }

  /** Lists the connection as its key's peer; null if it is gone or its replication failed. */
  list(connectionId: ConnectionId): NetworkerPeer | null {
    const entry = this.entries.get(connectionId)
    if (entry === undefined || entry.failed) return null
    const { type, remoteAddress } = describeTransport(entry.conn)
    const { remotePublicKey, conn, info, key } = entry
    const peer = new ListedPeer(remotePublicKey, remoteAddress, type, conn, info, connectionId, key)
    entry.peer = peer
    this.peers.add(peer)
    this.peersByKey.set(entry.key, peer)
    return peer
  }

  /** Takes the connection's peer off the list; null if it was never listed. */
  unlist(connectionId: ConnectionId): NetworkerPeer | null {
    const entry = this.entries.get(connectionId)
    const peer = entry?.peer
    if (entry === undefined || peer === undefined || peer === null) return null
    this.peers.delete(peer)
    if (this.peersByKey.get(entry.key) === peer) this.peersByKey.delete(entry.key)
    return peer
  }

  /** The peer of a remote key, if listed. */
  peerOf(remoteKey: KeyHex): NetworkerPeer | null {
    return this.peersByKey.get(remoteKey) ?? null
  }

  /** Every open connection, listed or not: what stats are computed from, when asked. */
  *views(): IterableIterator<ConnectionView> {
    for (const entry of this.entries.values()) {
      const peer = entry.peer !== null && this.peers.has(entry.peer) ? entry.peer : null
      yield { conn: entry.conn, peer }
    }
  }

  // The listeners every connection shares: `this` is the stream that emitted, and its entry
  // is looked up, instead of a closure per connection and event.

  /** The stream closed: the core hears of it, and the entry goes. */
  private readonly onclose = streamListener((conn) => {
    const entry = this.byStream.get(conn)
    if (entry === undefined) return
    this.byStream.delete(conn)
    entry.guard.release()
    this.opts.observer.closed(conn)
    this.opts.dispatch({ type: 'connection-closed', connectionId: entry.connectionId })
    this.entries.delete(entry.connectionId)
  })

  /** The remote's first data: 'readable', or the guard's first push (or 'data' without one). */
  private readonly ondata = streamListener((conn) => this.heardFrom(conn))

  private readonly heardFrom = (conn: SwarmConnection): void => {
    const entry = this.byStream.get(conn)
    if (entry === undefined || entry.sawData) return
    entry.sawData = true
    conn.removeListener('readable', this.ondata)
    conn.removeListener('data', this.ondata)
    // Its pairings, if any wait for a Protomux, get one now, before the bytes are read.
    heard(conn)
    // The guard hears from inside the stream's push: the core is told a job later, as it
    // was by 'readable', so nothing it decides (a drop, a listing) runs inside the stream.
    queueMicrotask(() => {
      if (this.byStream.get(conn) !== entry) return
      this.opts.dispatch({ type: 'connection-data', connectionId: entry.connectionId })
    })
  }

  /** The connection holds more unread than `maxInboundBuffer`: closed here. */
  private readonly overflowed = (conn: SwarmConnection): void => {
    this.opts.observer.closing(conn, 'overflow')
    this.opts.ownClose?.(conn, 'overflow')
    conn.destroy()
  }

  /** Remote keys of the current peers whose swarm record says our lookups found them for `topic`. */
  foundFor(topic: KeyHex): Uint8Array[] {
    const keys: Uint8Array[] = []
    // The topic's bytes, made once: every record is compared as bytes, not made a hex string
    // per topic it lists (this runs on each look of a flush's replication wait).
    const key = bytesOf(topic)
    for (const entry of this.entries.values()) {
      if (entry.peer === null || !this.peers.has(entry.peer)) continue
      if (entry.alsoFound?.has(topic) === true || recordLists(entry.info, topic, key))
        keys.push(entry.remotePublicKey)
    }
    return keys
  }

  /**
   * A listed peer was found for these topics once more, not by its swarm (a direct dial that
   * found it connected already): it counts as found for them, as if its record listed them.
   */
  foundAgain(peer: NetworkerPeer, topics: readonly Uint8Array[]): void {
    for (const entry of this.entries.values()) {
      if (entry.peer !== peer) continue
      entry.alsoFound ??= new Set()
      for (const topic of topics) entry.alsoFound.add(hexOf(topic))
      return
    }
  }
}

/** A stream event listener that hands the emitting stream (its `this`) to `handle`. */
function streamListener(handle: (conn: SwarmConnection) => void): () => void {
  return function (this: SwarmConnection): void {
    handle(this)
  }
}
