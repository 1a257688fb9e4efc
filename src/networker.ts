import { EventEmitter } from 'node:events'
import { ErrorCode, NetworkerError } from './core/errors.js'
import { discoveryKeyToHex, type KeyHex, publicKeyToHex } from './core/keys.js'
import type { NetworkerEvents } from './events.js'
import { type AdoptCallOptions, adoptOptionsOf } from './io/adopt-options.js'
import type { ReplicatingStore } from './io/connections.js'
import type { DhtStatus } from './io/dht-state.js'
import type { Extension, ExtensionHandlers } from './io/extension.js'
import { createExtension } from './io/extension-factory.js'
import type { NetworkerPeer } from './io/peer.js'
import type { RestoreOptions, RestoreReport } from './io/remembered-config.js'
import type { KeyPair, SwarmConnection, SwarmLike } from './io/swarm.js'
import {
  type ListenOptions,
  listenOptionsOf,
  type TcpListenAddress,
  type TcpTargetInput,
  tcpTargetOf,
} from './io/tcp-options.js'
import {
  type CloseOptions,
  type ConfigureOptions,
  closeTimeoutOf,
  configureRequestOf,
  type ExtensionSpec,
  type NetworkerOptions,
} from './options.js'
import {
  type CloseReport,
  type NetworkerDiagnostics,
  publicReport,
  publicStatus,
  type TopicStatusInfo,
} from './reports.js'
import { collectStats, type NetworkerStats } from './stats.js'
import { type NetworkerParts, wireNetworker } from './wiring.js'

/**
 * Finds peers for a store's topics on a Hyperswarm, keeps one connection per remote key,
 * and replicates the store over it. The policy lives in a pure core (src/core); the I/O
 * layer (src/io) carries out its effects; this class is the API (its parts are made and
 * wired in src/wiring.ts).
 */
export class Networker extends EventEmitter<NetworkerEvents> {
  readonly store: ReplicatingStore
  /** The connected peers, one per remote Noise key. */
  readonly peers: Set<NetworkerPeer>
  private readonly parts: NetworkerParts
  private closePromise: Promise<CloseReport> | null = null

  constructor(store: ReplicatingStore, opts: NetworkerOptions = {}) {
    super()
    this.parts = wireNetworker(store, opts, this)
    this.store = store
    this.peers = this.parts.connections.peers
  }

  /**
   * The swarm every connection comes from. With `persist` and no `keyPair` or `swarm`, it
   * is made once the store is open (`await networker.ready()`); until then this throws
   * NOT_READY.
   */
  get swarm(): SwarmLike {
    const swarm = this.parts.adapter.current
    if (swarm === null) {
      throw new NetworkerError(
        ErrorCode.NOT_READY,
        'the networker derives its key pair from the store: await networker.ready() first',
      )
    }
    return swarm
  }

  /** The Noise key pair every connection uses (NOT_READY until `ready()` with a derived identity). */
  get keyPair(): KeyPair {
    return this.swarm.keyPair
  }

  /**
   * The Noise streams of the current peers, one per remote key (the original module's
   * `streams`): each has `remotePublicKey` and `publicKey`.
   */
  get streams(): Set<SwarmConnection> {
    return new Set([...this.peers].map((peer) => peer.stream))
  }

  /** Resolves once the identity is known and the swarm exists (at once unless derived). */
  async ready(): Promise<void> {
    await this.parts.adapter.ready
  }

  /**
   * Whether the swarm's DHT can be reached: `{ state, nodes }`, state one of `connecting`,
   * `online`, `degraded`, `offline`, or `unknown` for a swarm without a HyperDHT.
   */
  get dhtStatus(): DhtStatus {
    return this.parts.adapter.dhtStatus
  }

  get closed(): boolean {
    return this.parts.core.lifeState === 'closed'
  }

  /**
   * Joins (announce and/or lookup) or leaves (both false) the topic. Resolves once that is
   * done and, unless `flush: false`, the swarm has flushed, every connection found by then is
   * settled, and the peers found for the topic replicate its core. Concurrent calls for one
   * key: the last wins and every call settles. The original module's callback form
   * `configure(dk, opts, cb)` is kept: `cb(err)` is called as well, and the promise is then
   * never left rejected and unhandled.
   */
  configure(
    discoveryKey: Uint8Array | string,
    opts: ConfigureOptions = {},
    cb?: (err: Error | null) => void,
  ): Promise<void> {
    let done: Promise<void>
    try {
      done = this.configureTopic(discoveryKey, opts)
    } catch (err) {
      done = Promise.reject(err)
    }
    if (typeof cb === 'function') {
      done.then(
        () => cb(null),
        (err: Error) => cb(err),
      )
    }
    return done
  }

  /**
   * Not async: a configure is the networker's most frequent call, and an async function
   * would add a promise and a turn to each. What it throws, `configure` rejects with.
   */
  private configureTopic(discoveryKey: Uint8Array | string, opts: ConfigureOptions): Promise<void> {
    const topic = topicOf(discoveryKey)
    const { announce, lookup, flush, signal, timeout } = configureRequestOf(opts)
    if (signal?.aborted === true) {
      throw new NetworkerError(ErrorCode.ABORTED, 'configure was aborted before it started')
    }
    // The timeout is the core's deadline: it settles the request with FLUSH_TIMEOUT then.
    // With flush, the request also waits for the flush's replication barrier, within the
    // same deadline (checked at the barrier's own looks).
    const deadline =
      timeout === undefined
        ? undefined
        : {
            at: this.parts.clock.now() + timeout,
            error: new NetworkerError(
              ErrorCode.FLUSH_TIMEOUT,
              `configure did not finish joining and flushing within ${timeout} ms`,
            ),
          }
    const { requestId, settled: requested } = this.parts.requests.open(
      flush ? topic : null,
      deadline,
    )
    // persist: record in call order, so the last call's configuration is the one remembered.
    const recorded =
      this.parts.records !== null && this.parts.core.lifeState === 'open'
        ? this.parts.records.record(topic, { announce, lookup })
        : null
    const done =
      recorded === null ? requested : Promise.all([requested, recorded]).then(() => undefined)
    this.parts.awareness.configured(topic, announce, lookup)
    // A Buffer given as the key is the one the swarm joins with (its join runs within this
    // dispatch), as the original module passed it to Hyperswarm; a hex string is decoded.
    const given = isKeyBuffer(discoveryKey)
    if (given) this.parts.adapter.keyGiven(topic, discoveryKey)
    try {
      this.parts.driver.dispatch(
        timeout === undefined
          ? { type: 'configure', requestId, topic, announce, lookup, flush }
          : { type: 'configure', requestId, topic, announce, lookup, flush, timeout },
      )
    } finally {
      if (given) this.parts.adapter.keyGiven(null, null)
    }
    return (
      signal === undefined ? done : this.parts.requests.bounded(requestId, done, signal)
    ) as Promise<void>
  }

  /**
   * Starts accepting direct connections to our key (Hyperswarm's `listen`). With `{ tcp }` —
   * a port, or `{ host, port }` (port 0 picks one; host defaults to every interface) — also
   * accepts direct TCP connections there (see `tcpAddress`); rejects with LISTEN_FAILED if
   * it cannot bind.
   */
  async listen(opts?: ListenOptions): Promise<void> {
    const { tcp } = listenOptionsOf(opts)
    this.assertOpen()
    this.parts.awareness.listened()
    await Promise.all([
      this.parts.adapter.listen(),
      tcp === null ? null : this.parts.transports.listen(tcp),
    ])
  }

  /** Where direct TCP connections are accepted (`listen({ tcp })`), or null. */
  get tcpAddress(): TcpListenAddress | null {
    return this.parts.transports.tcpAddress
  }

  /**
   * Dials one peer over direct TCP: `'host:port'` or `{ host, port, publicKey? }` (the key
   * expected; another is closed with REMOTE_KEY_MISMATCH, and a peer of it listed already is
   * the answer at once). Resolves and rejects as `adopt` does; DIAL_FAILED if it cannot
   * connect within `handshakeTimeout`.
   */
  async connect(target: TcpTargetInput): Promise<NetworkerPeer> {
    const checked = tcpTargetOf(target)
    this.assertOpen()
    return this.parts.transports.dial(checked)
  }

  /**
   * Brings a stream from outside the swarm — any duplex (a WebSocket stream, a WebRTC data
   * channel, a pipe) or an already-open Noise secret stream — into the same set of
   * connections: Noise over it unless it is a secret stream (bounded by `handshakeTimeout`),
   * then authentication, dedup, replication and extensions as for any connection. Resolves
   * to the peer listed for the remote key (whichever connection to it the dedup kept);
   * rejects with a NetworkerError if it closes before one is (HANDSHAKE_FAILED,
   * HANDSHAKE_TIMEOUT, REMOTE_KEY_MISMATCH, AUTHENTICATION_FAILED, CONNECTION_CLOSED,
   * NETWORKER_CLOSED).
   */
  async adopt(stream: unknown, opts: AdoptCallOptions): Promise<NetworkerPeer> {
    const options = adoptOptionsOf(opts)
    this.assertOpen()
    return this.parts.adopter.adopt(stream, options)
  }

  joined(discoveryKey: Uint8Array | string): boolean {
    return this.parts.core.status(topicOf(discoveryKey))?.joined ?? false
  }

  flushed(discoveryKey: Uint8Array | string): boolean {
    return this.parts.core.status(topicOf(discoveryKey))?.flushed ?? false
  }

  /** The topic's configuration and progress, or null if it was never configured. */
  status(discoveryKey: Uint8Array | string): TopicStatusInfo | null {
    const topic = topicOf(discoveryKey)
    const s = this.parts.core.status(topic)
    return s === null ? (this.parts.records?.status(topic) ?? null) : publicStatus(s)
  }

  /**
   * Every topic that is announced or looked up (or on its way there). With `persist`, also
   * every recorded topic not configured in this process yet (`joined: false` until restored).
   */
  allStatuses(): TopicStatusInfo[] {
    const live = this.parts.core
      .statuses()
      .filter((s) => s.announce || s.lookup)
      .map(publicStatus)
    if (this.parts.records === null) return live
    return [
      ...live,
      ...this.parts.records.statuses((topic) => this.parts.core.status(topic) !== null),
    ]
  }

  /**
   * (persist) Configures again, in parallel, every recorded topic this process has not
   * configured yet, and reports what was restored, what failed and which records were skipped.
   * Resolves once each is joined again; `{ flush: true }` also waits for each flush.
   */
  async restore(opts: RestoreOptions = {}): Promise<RestoreReport> {
    if (this.parts.records === null) {
      throw new NetworkerError(ErrorCode.INVALID_OPTION, 'restore() needs the persist option')
    }
    this.assertOpen()
    return this.parts.records.restore(
      (topic) => this.parts.core.status(topic) !== null,
      (topic, config) => this.configure(topic, config),
      opts,
    )
  }

  /**
   * Internal counts, for debugging and leak checks: all return to zero once peers are gone.
   * `floodGuard: 'unavailable'` appears if the inbound cap could not be installed.
   */
  diagnostics(): NetworkerDiagnostics {
    const counts: NetworkerDiagnostics = {
      connections: this.parts.connections.size,
      pendingConnections: this.parts.core.pendingConnections().length,
      peers: this.parts.core.peers().length,
      timers:
        this.parts.core.pendingTimers +
        this.parts.extensions.timerCount +
        (this.parts.lan?.timerCount ?? 0),
      extensionChannels: this.parts.extensions.channelCount,
    }
    // Streams still in their Noise handshake (adopt, direct TCP): listed only while there are any.
    const handshakes =
      this.parts.adopter.pendingHandshakes + this.parts.transports.connectingSockets
    if (handshakes > 0) counts.pendingHandshakes = handshakes
    const floodGuard = this.parts.connections.floodGuard
    return floodGuard === 'active' ? counts : { ...counts, floodGuard }
  }

  /**
   * What the networker is doing, computed now (nothing runs between calls): totals since
   * it was made — connections opened and closed by reason, duplicates, authentication,
   * reconnects, bytes, packets, extension messages — and one entry per peer with its
   * address, path, age, bytes and packets each way, round-trip time, congestion window,
   * retransmits, topics and extension messages. See the README for every field.
   */
  stats(): NetworkerStats {
    return collectStats(this.parts.statsSources)
  }

  /** The peers that share this topic with us now: each has it in `peer.topics`. */
  peersOf(discoveryKey: Uint8Array | string): NetworkerPeer[] {
    return this.parts.awareness.proofs.peersOf(topicOf(discoveryKey))
  }

  /** The peer for a remote public key (Buffer or hex), if connected. */
  getPeer(remotePublicKey: Uint8Array | string): NetworkerPeer | null {
    return this.parts.connections.peerOf(publicKeyToHex(remotePublicKey))
  }

  /**
   * Registers an application protocol on every connection, present and future. A name
   * registered again replaces (destroys) the earlier registration.
   *   registerExtension(name, { encoding, onmessage, onerror })
   *   registerExtension({ name, encoding, onmessage, onerror })
   *   registerExtension(name, (ext) => ({ onmessage, ... }))
   */
  registerExtension<T = unknown>(
    nameOrSpec: string | (ExtensionHandlers<T> & { name: string }),
    spec?: ExtensionSpec<T>,
  ): Extension<T> {
    this.assertOpen()
    return createExtension(nameOrSpec, spec, this.parts.extensions, this.parts.maxMessageSize)
  }

  /**
   * Leaves every topic, closes every connection and extension, destroys the swarm.
   * Idempotent: every call resolves once closed. With `timeout`, resolves within it
   * whatever hangs, and reports the topics it could not unannounce.
   */
  close(opts: CloseOptions = {}): Promise<CloseReport> {
    let timeout: number | undefined
    try {
      timeout = closeTimeoutOf(opts)
    } catch (err) {
      return Promise.reject(err)
    }
    if (this.closePromise === null) {
      const { requestId, settled } = this.parts.requests.open()
      // A close forced at its deadline stops waiting for the records too.
      const closed = settled.then((report) => {
        if (report?.forced === true) this.parts.records?.giveUp()
        return publicReport(report)
      })
      const records = this.parts.records?.close()
      this.closePromise =
        records === undefined ? closed : Promise.all([closed, records]).then(([report]) => report)
      this.parts.awareness.close()
      this.parts.adapter.closing()
      this.parts.adopter.close()
      this.parts.transports.close()
      // Once closed, its final counts stay in the registry; nothing of it is read any more.
      const retire = (): void => this.parts.metrics?.retire()
      this.closePromise.then(retire, retire)
      this.parts.driver.dispatch({
        type: 'close',
        requestId,
        ...(timeout === undefined ? {} : { timeout }),
      })
    } else if (timeout !== undefined && !this.closed) {
      // A later close with a deadline: the core forces the close by the earliest one asked.
      const { requestId } = this.parts.requests.open()
      this.parts.driver.dispatch({ type: 'close', requestId, timeout })
    }
    return this.closePromise
  }

  private assertOpen(): void {
    if (this.parts.core.lifeState !== 'open') {
      throw new NetworkerError(ErrorCode.NETWORKER_CLOSED, 'the networker is closed')
    }
  }
}

/**
 * A discovery key as the core's hex. A Buffer of 32 bytes (what configure is given almost
 * always) by Node's own encoder: one flat string and nothing else made, where the core's
 * pure conversion (keys.ts) spreads 64 character codes into a call. Anything else is checked
 * and converted there.
 */
function topicOf(discoveryKey: Uint8Array | string): KeyHex {
  return isKeyBuffer(discoveryKey) ? discoveryKey.toString('hex') : discoveryKeyToHex(discoveryKey)
}

/** A key given as a 32-byte Buffer: hexed by Node, and the bytes the swarm joins with. */
function isKeyBuffer(discoveryKey: Uint8Array | string): discoveryKey is Buffer {
  return Buffer.isBuffer(discoveryKey) && discoveryKey.byteLength === 32
}
