import { EventEmitter } from 'node:events'
import { ErrorCode, NetworkerError } from './core/errors.js'
import { discoveryKeyToHex, publicKeyToHex } from './core/keys.js'
import { NetworkerCore } from './core/networker-core.js'
import type { CoreEvent } from './core/protocol.js'
import { emitIsolated, type NetworkerEvents } from './events.js'
import { ConnectionTable, type ReplicatingStore } from './io/connections.js'
import { CoreDriver, type DriverClock } from './io/core-driver.js'
import type { DhtStatus } from './io/dht-state.js'
import { EffectRunner } from './io/effects.js'
import type { Extension, ExtensionHandlers } from './io/extension.js'
import { createExtension } from './io/extension-factory.js'
import { ExtensionRegistry } from './io/extension-registry.js'
import { wantsDerivedIdentity } from './io/identity.js'
import { NetworkerObserver } from './io/observer.js'
import type { NetworkerPeer } from './io/peer.js'
import { PeerAwareness } from './io/peer-awareness.js'
import {
  planPersist,
  RememberedConfig,
  type RestoreOptions,
  type RestoreReport,
} from './io/remembered-config.js'
import { FlushBarriers } from './io/replication-barrier.js'
import { PendingRequests } from './io/requests.js'
import type { KeyPair, SwarmConnection, SwarmLike } from './io/swarm.js'
import { SwarmAdapter } from './io/swarm-adapter.js'
import { attachMetrics, checkMetricsOption, type MetricsHandle } from './metrics/attach.js'
import { sampleOf } from './metrics/sample.js'
import {
  type CloseOptions,
  type ConfigureOptions,
  closeTimeoutOf,
  configureRequestOf,
  type ExtensionSpec,
  type NetworkerOptions,
  settingsOf,
} from './options.js'
import {
  type CloseReport,
  type NetworkerDiagnostics,
  publicReport,
  publicStatus,
  type TopicStatusInfo,
} from './reports.js'
import { collectStats, collectTotals, type NetworkerStats, type StatsSources } from './stats.js'

/**
 * Finds peers for a store's topics on a Hyperswarm, keeps one connection per remote key,
 * and replicates the store over it. The policy lives in a pure core (src/core); the I/O
 * layer (src/io) carries out its effects; this class is the API and wires the two.
 */
export class Networker extends EventEmitter<NetworkerEvents> {
  readonly store: ReplicatingStore
  /** The connected peers, one per remote Noise key. */
  readonly peers: Set<NetworkerPeer>
  /** Extension traffic turned away: messages for no extension of ours, malformed frames. */
  private readonly extensionCounters = { extensionMessagesDropped: 0, extensionFramesMalformed: 0 }
  /** Counts what happens to connections and peers, for `stats()`. */
  private readonly observer: NetworkerObserver
  private readonly statsSources: StatsSources
  /** Our part in the `metrics` registry, if one was given. */
  private readonly metrics: MetricsHandle | null = null

  private readonly core: NetworkerCore
  private readonly driver: CoreDriver
  private readonly clock: DriverClock
  private readonly connections: ConnectionTable
  private readonly adapter: SwarmAdapter
  private readonly requests: PendingRequests
  private readonly barriers: FlushBarriers
  private readonly extensions: ExtensionRegistry
  /** Topics shared per peer, liveness, reconnection, and why we closed what we closed. */
  private readonly awareness: PeerAwareness
  private readonly maxMessageSize: number
  private readonly records: RememberedConfig | null
  private closePromise: Promise<CloseReport> | null = null

  constructor(store: ReplicatingStore, opts: NetworkerOptions = {}) {
    super()
    const settings = settingsOf(store, opts)
    // Checked with the other options, before anything is made; attached once all is made.
    if (opts.metrics !== undefined) checkMetricsOption(opts.metrics)
    const persist = planPersist(store, opts.persist)
    const dispatch = (event: CoreEvent): void => this.driver.dispatch(event)
    const open = (): boolean => this.core.lifeState === 'open'
    this.store = store
    this.clock = settings.clock
    this.maxMessageSize = settings.maxMessageSize
    this.core = new NetworkerCore({
      localKey: null,
      authenticate: settings.onauthenticate !== null,
      authenticateTimeout: settings.authenticateTimeout,
      ...(settings.maxPeers === undefined ? {} : { maxPeers: settings.maxPeers }),
    })
    this.requests = new PendingRequests()
    this.observer = new NetworkerObserver(() => this.clock.now())
    this.connections = new ConnectionTable({
      store,
      dispatch,
      onauthenticate: settings.onauthenticate,
      maxInboundBuffer: settings.maxInboundBuffer,
      clock: this.clock,
      observer: this.observer,
      ownClose: (conn, reason) => this.awareness.ownClose(conn, reason),
    })
    this.peers = this.connections.peers
    this.awareness = new PeerAwareness(settings.awareness, {
      clock: this.clock,
      swarm: () => this.adapter.current,
      localKey: () => this.core.localKey,
      open,
      peerOf: (key) => this.connections.peerOf(key),
      topicAdded: (peer, dk) => this.emitUser(() => this.emit('peer-topic-add', peer, dk)),
      topicRemoved: (peer, dk) => this.emitUser(() => this.emit('peer-topic-remove', peer, dk)),
      dropped: (drop) => {
        // Counted under its reason when it closes (the core's own drops are marked already).
        if (drop.peer !== null) this.observer.closing(drop.peer.stream, drop.reason)
        this.emitUser(() => this.emit('connection-drop', drop))
      },
      proofError: (err, peer) => this.emitUser(() => this.emit('topic-proof-error', err, peer)),
    })
    this.extensions = new ExtensionRegistry({
      clock: this.clock,
      maxHeldBytes: settings.maxHeldBytes,
      holdTimeout: settings.extensionHoldTimeout,
      stats: this.extensionCounters,
      isPeer: (peer) => this.peers.has(peer),
      findPeer: (key) => this.getPeer(key),
      reportError: (err, extension, peer) => this.emit('extension-error', err, { extension, peer }),
      closing: () => !open(),
    })
    this.barriers = new FlushBarriers({
      store,
      clock: this.clock,
      timeout: settings.flushReplicationTimeout,
      peersFoundFor: (topic) => this.connections.foundFor(topic),
      closing: () => !open(),
    })
    this.adapter = new SwarmAdapter(
      {
        given: opts.swarm,
        hyperswarm: settings.hyperswarm,
        // One identity across restarts: a persisting networker derives its key pair.
        deriveFrom: wantsDerivedIdentity(store, opts) ? store : null,
      },
      {
        dispatch,
        identified: (key) => this.core.identify(key),
        connection: (conn, info) => {
          this.awareness.accepted(conn, info)
          this.connections.accept(conn, info)
        },
        dhtChanged: (status) => this.emitUser(() => this.emit('dht-status', status)),
      },
    )
    const effects = new EffectRunner({
      swarm: this.adapter,
      connections: this.connections,
      requests: this.requests,
      extensions: this.extensions,
      barriers: this.barriers,
      observer: this.observer,
      user: {
        peerAdded: (peer) => {
          this.awareness.added(peer)
          this.emitUser(() => this.emit('peer-add', peer))
        },
        peerRemoved: (peer) => {
          this.awareness.removed(peer)
          this.emitUser(() => this.emit('peer-remove', peer))
        },
        topic: (event, discoveryKey) => this.emitUser(() => this.emit(event, discoveryKey)),
      },
      dispatch,
      stopDriver: () => this.driver.stop(),
      teardown: () => this.records?.close(),
      flushed: (topic) => this.flushed(topic),
    })
    this.driver = new CoreDriver(this.core, this.clock, {
      run: (effect) => {
        effects.run(effect)
        this.awareness.effect(effect)
      },
      notice: (notice) => effects.notice(notice),
    })
    this.statsSources = {
      counts: this.observer.counts,
      closedTransport: this.observer.closedTransport,
      extensionCounters: this.extensionCounters,
      connections: () => this.connections.views(),
      topics: () => this.core.statuses(),
      ageOf: (peer) => this.observer.ageOf(peer),
      extensionsOf: (peer) => this.extensions.countsOf(peer),
      extensionTotals: () => this.extensions.countTotals(),
      dht: () => (this.adapter.current as { dht?: unknown } | null)?.dht ?? null,
    }
    if (opts.metrics !== undefined) {
      // Sampled when scraped, never in between.
      this.metrics = attachMetrics(opts.metrics, () => {
        const { totals, rttMs } = collectTotals(this.statsSources)
        return sampleOf(totals, rttMs, this.dhtStatus)
      })
    }
    this.records =
      persist === null
        ? null
        : new RememberedConfig(persist, {
            skipped: (err, key) => this.emit('record-skipped', err, { key }),
            failed: (err) => this.emit('persist-error', err),
          })
  }

  /**
   * The swarm every connection comes from. With `persist` and no `keyPair` or `swarm`, it
   * is made once the store is open (`await networker.ready()`); until then this throws
   * NOT_READY.
   */
  get swarm(): SwarmLike {
    const swarm = this.adapter.current
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
    await this.adapter.ready
  }

  /**
   * Whether the swarm's DHT can be reached: `{ state, nodes }`, state one of `connecting`,
   * `online`, `degraded`, `offline`, or `unknown` for a swarm without a HyperDHT.
   */
  get dhtStatus(): DhtStatus {
    return this.adapter.dhtStatus
  }

  get closed(): boolean {
    return this.core.lifeState === 'closed'
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
    const done = this.configureTopic(discoveryKey, opts)
    if (typeof cb === 'function') {
      done.then(
        () => cb(null),
        (err: Error) => cb(err),
      )
    }
    return done
  }

  private async configureTopic(
    discoveryKey: Uint8Array | string,
    opts: ConfigureOptions,
  ): Promise<void> {
    const topic = discoveryKeyToHex(discoveryKey)
    const { announce, lookup, flush, signal, timeout } = configureRequestOf(opts)
    if (signal?.aborted === true) {
      throw new NetworkerError(ErrorCode.ABORTED, 'configure was aborted before it started')
    }
    const { requestId, settled: requested } = this.requests.open()
    // persist: record in call order, so the last call's configuration is the one remembered.
    const recorded =
      this.records !== null && this.core.lifeState === 'open'
        ? this.records.record(topic, { announce, lookup })
        : null
    const settled =
      recorded === null ? requested : Promise.all([requested, recorded]).then(() => undefined)
    // The timeout is the core's deadline: it settles the request with FLUSH_TIMEOUT then.
    // With flush, the call also waits for the flush's replication barrier, within the same
    // deadline (checked at the barrier's own looks).
    const deadline =
      timeout === undefined
        ? undefined
        : {
            at: this.clock.now() + timeout,
            error: new NetworkerError(
              ErrorCode.FLUSH_TIMEOUT,
              `configure did not finish joining and flushing within ${timeout} ms`,
            ),
          }
    const done = flush ? settled.then(() => this.barriers.wait(topic, deadline)) : settled
    this.awareness.configured(topic, announce, lookup)
    this.driver.dispatch({
      type: 'configure',
      requestId,
      topic,
      announce,
      lookup,
      flush,
      ...(timeout === undefined ? {} : { timeout }),
    })
    await (signal === undefined ? done : this.requests.bounded(requestId, done, signal))
  }

  /** Starts accepting direct connections to our key (Hyperswarm's `listen`). */
  async listen(): Promise<void> {
    this.assertOpen()
    this.awareness.listened()
    await this.adapter.listen()
  }

  joined(discoveryKey: Uint8Array | string): boolean {
    return this.core.status(discoveryKeyToHex(discoveryKey))?.joined ?? false
  }

  flushed(discoveryKey: Uint8Array | string): boolean {
    return this.core.status(discoveryKeyToHex(discoveryKey))?.flushed ?? false
  }

  /** The topic's configuration and progress, or null if it was never configured. */
  status(discoveryKey: Uint8Array | string): TopicStatusInfo | null {
    const topic = discoveryKeyToHex(discoveryKey)
    const s = this.core.status(topic)
    return s === null ? (this.records?.status(topic) ?? null) : publicStatus(s)
  }

  /**
   * Every topic that is announced or looked up (or on its way there). With `persist`, also
   * every recorded topic not configured in this process yet (`joined: false` until restored).
   */
  allStatuses(): TopicStatusInfo[] {
    const live = this.core
      .statuses()
      .filter((s) => s.announce || s.lookup)
      .map(publicStatus)
    if (this.records === null) return live
    return [...live, ...this.records.statuses((topic) => this.core.status(topic) !== null)]
  }

  /**
   * (persist) Configures again, in parallel, every recorded topic this process has not
   * configured yet, and reports what was restored, what failed and which records were skipped.
   * Resolves once each is joined again; `{ flush: true }` also waits for each flush.
   */
  async restore(opts: RestoreOptions = {}): Promise<RestoreReport> {
    if (this.records === null) {
      throw new NetworkerError(ErrorCode.INVALID_OPTION, 'restore() needs the persist option')
    }
    this.assertOpen()
    return this.records.restore(
      (topic) => this.core.status(topic) !== null,
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
      connections: this.connections.size,
      pendingConnections: this.core.pendingConnections().length,
      peers: this.core.peers().length,
      timers: this.core.pendingTimers + this.extensions.timerCount,
      extensionChannels: this.extensions.channelCount,
    }
    const floodGuard = this.connections.floodGuard
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
    return collectStats(this.statsSources)
  }

  /** The peers that share this topic with us now: each has it in `peer.topics`. */
  peersOf(discoveryKey: Uint8Array | string): NetworkerPeer[] {
    return this.awareness.proofs.peersOf(discoveryKeyToHex(discoveryKey))
  }

  /** The peer for a remote public key (Buffer or hex), if connected. */
  getPeer(remotePublicKey: Uint8Array | string): NetworkerPeer | null {
    return this.connections.peerOf(publicKeyToHex(remotePublicKey))
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
    return createExtension(nameOrSpec, spec, this.extensions, this.maxMessageSize)
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
      const { requestId, settled } = this.requests.open()
      // A close forced at its deadline stops waiting for the records too.
      const closed = settled.then((report) => {
        if (report?.forced === true) this.records?.giveUp()
        return publicReport(report)
      })
      const records = this.records?.close()
      this.closePromise =
        records === undefined ? closed : Promise.all([closed, records]).then(([report]) => report)
      this.awareness.close()
      // Once closed, its final counts stay in the registry; nothing of it is read any more.
      const retire = (): void => this.metrics?.retire()
      this.closePromise.then(retire, retire)
      this.driver.dispatch({
        type: 'close',
        requestId,
        ...(timeout === undefined ? {} : { timeout }),
      })
    } else if (timeout !== undefined && !this.closed) {
      // A later close with a deadline: the core forces the close by the earliest one asked.
      const { requestId } = this.requests.open()
      this.driver.dispatch({ type: 'close', requestId, timeout })
    }
    return this.closePromise
  }

  private assertOpen(): void {
    if (this.core.lifeState !== 'open') {
      throw new NetworkerError(ErrorCode.NETWORKER_CLOSED, 'the networker is closed')
    }
  }

  /** Emits to the user's listeners; a listener that throws cannot stop the networker. */
  private emitUser(emit: () => void): void {
    emitIsolated(this, emit)
  }
}
