import { EventEmitter } from 'node:events'
import b4a from 'b4a'
import { ErrorCode, NetworkerError, toError } from './core/errors.js'
import {
  bytesToHex,
  describe,
  discoveryKeyToHex,
  hexToBytes,
  type KeyHex,
  publicKeyToHex,
} from './core/keys.js'
import { NetworkerCore } from './core/networker-core.js'
import type {
  ConnectionId,
  CloseReport as CoreCloseReport,
  CoreEffect,
  RequestId,
  TopicNotice,
  TopicStatus,
} from './core/protocol.js'
import { type AuthenticateHook, runAuthenticate } from './io/authenticate.js'
import { CoreDriver, type DriverClock, realClock } from './io/core-driver.js'
import { type DhtStatus, dhtStatusOf, watchDht } from './io/dht-state.js'
import { resolveEncoding } from './io/encodings.js'
import { DEFAULT_MAX_MESSAGE_SIZE, Extension, type ExtensionHandlers } from './io/extension.js'
import {
  DEFAULT_EXTENSION_HOLD_TIMEOUT,
  DEFAULT_MAX_HELD_BYTES,
  ExtensionRegistry,
} from './io/extension-registry.js'
import { deriveKeyPair, wantsDerivedIdentity } from './io/identity.js'
import { guardInbound } from './io/inbound-guard.js'
import type { NetworkerPeer } from './io/peer.js'
import {
  type PersistOption,
  planPersist,
  RememberedConfig,
  type RestoreOptions,
  type RestoreReport,
} from './io/remembered-config.js'
import { DEFAULT_FLUSH_REPLICATION_TIMEOUT, waitForReplication } from './io/replication-barrier.js'
import {
  createHyperswarm,
  type DiscoverySession,
  isSwarmLike,
  type KeyPair,
  type SwarmConnection,
  type SwarmLike,
} from './io/swarm.js'
import { describeTransport } from './io/transport.js'

/** What the networker needs of a store: Corestore's `replicate(stream)`. */
export interface ReplicatingStore {
  replicate(stream: SwarmConnection): unknown
}

export interface NetworkerOptions extends HyperswarmOptions {
  /** Noise key pair used on every connection (ignored when `swarm` is given: the swarm's is used). */
  keyPair?: KeyPair
  /** Gate every connection, incoming and outgoing, before it is replicated to or listed. */
  onauthenticate?: AuthenticateHook
  /** How long `onauthenticate` may take before the peer is rejected (ms). Default 10 s. */
  authenticateTimeout?: number
  /** Use this Hyperswarm-shaped swarm instead of creating one. */
  swarm?: SwarmLike
  /** Time source for the core's timers; the simulator injects a virtual one. */
  clock?: DriverClock
  /** Default size limit of one extension message (bytes). Default 4 MiB. */
  maxMessageSize?: number
  /** Most remote peers at once (also passed to Hyperswarm); further keys are turned away. */
  maxPeers?: number
  /**
   * Most bytes one connection may hold unread (while authentication is pending, or while
   * Protomux holds messages for a channel not open yet); past it the connection is closed
   * and counted in `stats.inboundOverflows`. Default 32 MiB.
   */
  maxInboundBuffer?: number
  /**
   * Most bytes of extension messages held for one peer until it says which extensions it
   * has (a send past it throws EXTENSION_HOLD_FULL). Default 1 MiB.
   */
  maxHeldBytes?: number
  /**
   * The grace period after a connection (ms): messages held for a peer wait this long for it
   * to have their extension, then are dropped and reported (EXTENSION_NOT_SUPPORTED). Default 10 s.
   */
  extensionHoldTimeout?: number
  /**
   * Remember every configure durably (before its promise resolves) so `restore()` can
   * re-apply them after a restart: `true` keeps the records in a private core of `store`,
   * or pass your own record store ({ put, del, iterate }). Default false.
   */
  persist?: PersistOption
  /**
   * How long a flushing configure waits, once the swarm has flushed, for the peers found
   * for the topic to replicate the topic's core (a peer that does not hold it never
   * does). Default 3 000 ms.
   */
  flushReplicationTimeout?: number
}

/**
 * The Hyperswarm options the networker passes through to the swarm it makes (ignored when
 * `swarm` is given). Typed so a misspelt option (`maxPeer`, `bootstap`) does not compile;
 * JavaScript callers may still pass other Hyperswarm or HyperDHT options, which go through
 * as they are.
 */
export interface HyperswarmOptions {
  /** HyperDHT bootstrap nodes: `'host:port'` strings or `{ host, port }` objects. */
  bootstrap?: (string | { host: string; port: number })[]
  /** A HyperDHT instance to use (e.g. `testnet.createNode()`); the swarm makes one otherwise. */
  dht?: object
  /** Seed of the swarm's key pair (when no `keyPair` is given). */
  seed?: Uint8Array
  /** Most connections at once (also the networker's limit on remote keys). */
  maxPeers?: number
  maxClientConnections?: number
  maxServerConnections?: number
  /** Most connection attempts in flight at once. */
  maxParallel?: number
  /** Return true to refuse a connection from this key before its handshake completes. */
  firewall?: (remotePublicKey: Buffer, payload: unknown) => boolean
  /** Relay connections through these public keys (Hyperswarm's blind relays). */
  relayThrough?: Uint8Array | null | ((force: boolean) => Uint8Array | null)
  /** The HyperDHT node's UDP port (made by the swarm when no `dht` is given). */
  port?: number
}

export interface ConfigureOptions {
  /** Announce the topic so others find us (Hyperswarm `server`). Default true. */
  announce?: boolean
  /** Look the topic up to find others (Hyperswarm `client`). Default true. */
  lookup?: boolean
  /** Resolve only after the swarm has flushed and every connection found so far is settled. Default true. */
  flush?: boolean
  /** Stop waiting (reject with ABORTED) when this signal aborts; the configuration itself stays. */
  signal?: AbortSignal
  /** Stop waiting after this many ms (reject with FLUSH_TIMEOUT); the configuration itself stays. */
  timeout?: number
}

export interface CloseOptions {
  /** Resolve within this many ms even if topics cannot be unannounced or connections hang. */
  timeout?: number
}

export interface CloseReport {
  /** Topics whose announcement could not be withdrawn (the leave failed or ran out of time). */
  unannounced: Buffer[]
  /** The timeout cut the close short. */
  forced: boolean
}

export interface TopicStatusInfo {
  discoveryKey: Buffer
  announce: boolean
  lookup: boolean
  joined: boolean
  flushed: boolean
}

export type { NetworkerPeer }

interface ConnectionEntry {
  conn: SwarmConnection
  remotePublicKey: Buffer
  peer: NetworkerPeer | null
  sawData: boolean
  ondata: () => void
  /** The swarm's record of the peer: its `topics` grow as our lookups find it again. */
  info: { topics?: unknown } | undefined
  /** `store.replicate` threw: the connection is being destroyed and is never listed. */
  failed: boolean
}

const OWN_OPTIONS = new Set([
  'keyPair',
  'onauthenticate',
  'authenticateTimeout',
  'swarm',
  'clock',
  'maxMessageSize',
  'maxInboundBuffer',
  'maxHeldBytes',
  'extensionHoldTimeout',
  'persist',
  'flushReplicationTimeout',
])
const DEFAULT_AUTHENTICATE_TIMEOUT = 10_000
const DEFAULT_MAX_INBOUND_BUFFER = 32 * 1024 * 1024

export interface ExtensionErrorInfo {
  extension: string
  peer: NetworkerPeer | null
}

export interface NetworkerEvents {
  'peer-add': [peer: NetworkerPeer]
  'peer-remove': [peer: NetworkerPeer]
  /** The topic is joined (announced and/or looked up), as `joined(discoveryKey)` now says. */
  joined: [discoveryKey: Buffer]
  /**
   * A flush of the topic completed: the swarm flushed, every connection it found is
   * settled, and every peer found for the topic that holds its core replicates it.
   */
  flushed: [discoveryKey: Buffer]
  /** The topic was left (both announce and lookup off, the leave done). */
  left: [discoveryKey: Buffer]
  /**
   * The DHT's reachability changed (see `dhtStatus`): `offline` means no DHT node answered,
   * so joins and flushes complete having found and announced nothing.
   */
  'dht-status': [status: DhtStatus]
  /** A user listener threw (LISTENER_FAILED, the listener's error as `cause`). */
  error: [err: NetworkerError]
  /** An extension without its own onerror could not decode a message, or its handler threw. */
  'extension-error': [err: NetworkerError, info: ExtensionErrorInfo]
  /** (persist) A remembered record was damaged or of an unknown version: skipped, left in place. */
  'record-skipped': [err: NetworkerError, info: { key: string }]
  /** (persist) The record store failed to open, to be read, or to take a write. */
  'persist-error': [err: NetworkerError]
}

/** registerExtension's forms: handlers, a function of the extension returning them, or all in one object. */
export type ExtensionSpec<T> = ExtensionHandlers<T> | ((ext: Extension<T>) => ExtensionHandlers<T>)

/**
 * Finds peers for a store's topics on a Hyperswarm, keeps one connection per remote key,
 * and replicates the store over it. The policy lives in a pure core; this class only
 * carries out the core's effects and reports what happened.
 */
export class Networker extends EventEmitter<NetworkerEvents> {
  readonly store: ReplicatingStore
  readonly peers = new Set<NetworkerPeer>()
  /** Counters of what the networker turned away. */
  readonly stats = { inboundOverflows: 0, extensionMessagesDropped: 0, extensionFramesMalformed: 0 }

  private readonly core: NetworkerCore
  private readonly driver: CoreDriver
  private readonly clock: DriverClock
  private readonly onauthenticate: AuthenticateHook | null
  private readonly authenticateTimeout: number
  private readonly connections = new Map<ConnectionId, ConnectionEntry>()
  private readonly sessions = new Map<KeyHex, DiscoverySession>()
  private readonly requests = new Map<
    RequestId,
    { resolve: (report: CoreCloseReport | undefined) => void; reject: (err: Error) => void }
  >()
  private nextRequestId = 1
  private nextConnectionId = 1
  private closePromise: Promise<CloseReport> | null = null
  private readonly extensions: ExtensionRegistry
  private readonly maxMessageSize: number
  private readonly maxInboundBuffer: number
  private readonly records: RememberedConfig | null
  private ownSwarm: SwarmLike | null = null
  private readonly swarmReady: Promise<SwarmLike>
  private readonly flushReplicationTimeout: number
  /** Per topic, the wait for replication of its latest flush; 'flushed' is emitted after it. */
  private readonly flushBarriers = new Map<KeyHex, { promise: Promise<void>; epoch: number }>()
  private flushEpoch = 0
  private unwatchDht: () => void = noop

  constructor(store: ReplicatingStore, opts: NetworkerOptions = {}) {
    super()
    validateOptions(store, opts)
    const persist = planPersist(store, opts.persist)
    this.store = store
    this.onauthenticate = opts.onauthenticate ?? null
    this.authenticateTimeout = opts.authenticateTimeout ?? DEFAULT_AUTHENTICATE_TIMEOUT
    this.maxMessageSize = opts.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE
    this.maxInboundBuffer = opts.maxInboundBuffer ?? DEFAULT_MAX_INBOUND_BUFFER
    this.flushReplicationTimeout = opts.flushReplicationTimeout ?? DEFAULT_FLUSH_REPLICATION_TIMEOUT
    this.core = new NetworkerCore({
      localKey: null,
      authenticate: this.onauthenticate !== null,
      ...(opts.maxPeers === undefined ? {} : { maxPeers: opts.maxPeers }),
    })
    this.clock = opts.clock ?? realClock
    this.extensions = new ExtensionRegistry({
      clock: this.clock,
      maxHeldBytes: opts.maxHeldBytes ?? DEFAULT_MAX_HELD_BYTES,
      holdTimeout: opts.extensionHoldTimeout ?? DEFAULT_EXTENSION_HOLD_TIMEOUT,
      stats: this.stats,
      isPeer: (peer) => this.peers.has(peer),
      findPeer: (key) => this.getPeer(key),
      reportError: (err, extension, peer) => this.emit('extension-error', err, { extension, peer }),
      closing: () => this.core.lifeState !== 'open',
    })
    this.driver = new CoreDriver(this.core, this.clock, {
      run: (effect) => this.run(effect),
      notice: (notice) => this.onnotice(notice),
    })
    if (wantsDerivedIdentity(store, opts)) {
      // One identity across restarts: the key pair comes from the store's own secret, which
      // is only known once the store is open, so the swarm is made then.
      this.swarmReady = deriveKeyPair(store).then((keyPair) =>
        this.adoptSwarm(createHyperswarm({ ...hyperswarmOptions(opts), keyPair })),
      )
      this.swarmReady.catch(noop)
    } else {
      const swarm = this.adoptSwarm(opts.swarm ?? createHyperswarm(hyperswarmOptions(opts)))
      this.swarmReady = Promise.resolve(swarm)
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
    if (this.ownSwarm === null) {
      throw new NetworkerError(
        ErrorCode.NOT_READY,
        'the networker derives its key pair from the store: await networker.ready() first',
      )
    }
    return this.ownSwarm
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
    await this.swarmReady
  }

  /**
   * Whether the swarm's DHT can be reached: `{ state, nodes }`, state one of `connecting`,
   * `online`, `degraded`, `offline`, or `unknown` for a swarm without a HyperDHT.
   */
  get dhtStatus(): DhtStatus {
    return dhtStatusOf((this.ownSwarm as { dht?: unknown } | null)?.dht)
  }

  private adoptSwarm(swarm: SwarmLike): SwarmLike {
    this.ownSwarm = swarm
    this.core.identify(bytesToHex(swarm.keyPair.publicKey))
    swarm.on('connection', this.onconnection)
    this.unwatchDht = watchDht((swarm as { dht?: unknown }).dht, (status) =>
      this.emitUser(() => this.emit('dht-status', status)),
    )
    return swarm
  }

  /** Runs `use` with the swarm now if it exists, else once it does (never after a failure). */
  private withSwarm(use: (swarm: SwarmLike) => void, failed: (err: unknown) => void): void {
    if (this.ownSwarm !== null) use(this.ownSwarm)
    else this.swarmReady.then(use, failed)
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
    if (typeof opts !== 'object' || opts === null) {
      throw new NetworkerError(
        ErrorCode.INVALID_OPTION,
        `configure options must be an object, got ${describe(opts)}`,
      )
    }
    const announce = booleanOption(opts.announce, 'announce', true)
    const lookup = booleanOption(opts.lookup, 'lookup', true)
    const flush = booleanOption(opts.flush, 'flush', true)
    const { signal, timeout } = opts
    if (signal !== undefined && !isAbortSignal(signal)) {
      throw new NetworkerError(
        ErrorCode.INVALID_OPTION,
        `option signal must be an AbortSignal, got ${describe(signal)}`,
      )
    }
    if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout >= 0))) {
      throw new NetworkerError(
        ErrorCode.INVALID_OPTION,
        'option timeout must be a non-negative number of ms',
      )
    }
    if (signal?.aborted === true) {
      throw new NetworkerError(ErrorCode.ABORTED, 'configure was aborted before it started')
    }
    const requestId = this.nextRequestId++
    // persist: record in call order, so the last call's configuration is the one remembered.
    const recorded =
      this.records !== null && this.core.lifeState === 'open'
        ? this.records.record(topic, { announce, lookup })
        : null
    const settled =
      recorded === null
        ? this.request(requestId)
        : Promise.all([this.request(requestId), recorded]).then(() => undefined)
    // With flush, the call also waits for the flush's replication barrier (see onnotice).
    const done = flush ? settled.then(() => this.flushBarriers.get(topic)?.promise) : settled
    this.driver.dispatch({ type: 'configure', requestId, topic, announce, lookup, flush })
    if (signal === undefined && timeout === undefined) {
      await done
      return
    }
    await this.bounded(requestId, done, signal, timeout)
  }

  /**
   * Stops waiting for a request on abort or timeout. The request itself goes on in the
   * core (a configuration stays applied); only this promise gives up on it.
   */
  private bounded(
    requestId: RequestId,
    settled: Promise<unknown>,
    signal: AbortSignal | undefined,
    timeout: number | undefined,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let timer: unknown = null
      const cleanup = (): void => {
        if (timer !== null) this.clock.clearTimeout(timer)
        signal?.removeEventListener('abort', onabort)
      }
      const giveUp = (err: NetworkerError): void => {
        if (!this.requests.delete(requestId)) return
        cleanup()
        reject(err)
      }
      const onabort = (): void =>
        giveUp(new NetworkerError(ErrorCode.ABORTED, 'configure was aborted before it completed'))
      signal?.addEventListener('abort', onabort, { once: true })
      if (timeout !== undefined) {
        timer = this.clock.setTimeout(
          () =>
            giveUp(
              new NetworkerError(
                ErrorCode.FLUSH_TIMEOUT,
                `configure did not finish joining and flushing within ${timeout} ms`,
              ),
            ),
          timeout,
        )
      }
      settled.then(
        () => {
          cleanup()
          resolve()
        },
        (err: unknown) => {
          cleanup()
          reject(err)
        },
      )
    })
  }

  /** Starts accepting direct connections to our key (Hyperswarm's `listen`). */
  async listen(): Promise<void> {
    this.assertOpen()
    const swarm = await this.swarmReady
    await swarm.listen?.()
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

  /** Internal counts, for debugging and leak checks: all return to zero once peers are gone. */
  diagnostics(): {
    connections: number
    pendingConnections: number
    peers: number
    timers: number
    extensionChannels: number
  } {
    return {
      connections: this.connections.size,
      pendingConnections: this.core.pendingConnections().length,
      peers: this.core.peers().length,
      timers: this.core.pendingTimers + this.extensions.timerCount,
      extensionChannels: this.extensions.channelCount,
    }
  }

  /** The peer for a remote public key, if connected. */
  getPeer(remotePublicKey: Uint8Array | string): NetworkerPeer | null {
    const hex = publicKeyToHex(remotePublicKey)
    for (const peer of this.peers) if (bytesToHex(peer.remotePublicKey) === hex) return peer
    return null
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
    const { name, handlers } = parseExtensionArgs(nameOrSpec, spec)
    const ext = new Extension<T>(
      name,
      typeof handlers === 'function' ? {} : handlers,
      this.extensions,
      this.maxMessageSize,
    )
    if (typeof handlers === 'function') {
      const resolved = handlers(ext)
      if (typeof resolved !== 'object' || resolved === null) {
        throw new NetworkerError(
          ErrorCode.INVALID_OPTION,
          'an extension factory must return the handlers object',
        )
      }
      resolveEncodingCheck(resolved)
      ext.setHandlers(resolved)
    }
    this.extensions.register(ext as Extension<unknown>)
    return ext
  }

  /**
   * Leaves every topic, closes every connection and extension, destroys the swarm.
   * Idempotent: every call resolves once closed. With `timeout`, resolves within it
   * whatever hangs, and reports the topics it could not unannounce.
   */
  close(opts: CloseOptions = {}): Promise<CloseReport> {
    const timeout = opts?.timeout
    if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout >= 0))) {
      return Promise.reject(
        new NetworkerError(
          ErrorCode.INVALID_OPTION,
          'close timeout must be a non-negative number of ms',
        ),
      )
    }
    if (this.closePromise === null) {
      const requestId = this.nextRequestId++
      const closed = this.request(requestId).then(publicReport)
      const records = this.records?.close()
      this.closePromise =
        records === undefined ? closed : Promise.all([closed, records]).then(([report]) => report)
      this.driver.dispatch({ type: 'close', requestId })
    }
    if (timeout !== undefined && !this.closed) {
      const timer = this.clock.setTimeout(() => {
        this.driver.dispatch({ type: 'close-timeout' })
        this.records?.giveUp()
      }, timeout)
      this.closePromise.then(
        () => this.clock.clearTimeout(timer),
        () => this.clock.clearTimeout(timer),
      )
    }
    return this.closePromise
  }

  private assertOpen(): void {
    if (this.core.lifeState !== 'open') {
      throw new NetworkerError(ErrorCode.NETWORKER_CLOSED, 'the networker is closed')
    }
  }

  private request(requestId: RequestId): Promise<CoreCloseReport | undefined> {
    return new Promise<CoreCloseReport | undefined>((resolve, reject) => {
      this.requests.set(requestId, { resolve, reject })
    })
  }

  private readonly onconnection = (conn: SwarmConnection, info?: { topics?: unknown }): void => {
    const connectionId = this.nextConnectionId++
    const remotePublicKey = b4a.from(conn.remotePublicKey as Uint8Array)
    const entry: ConnectionEntry = {
      conn,
      remotePublicKey,
      peer: null,
      sawData: false,
      info,
      failed: false,
      ondata: noop,
    }
    this.connections.set(connectionId, entry)
    // Stream errors end in 'close'; a listener keeps them from becoming uncaught.
    conn.on('error', noop)
    const unguard = guardInbound(conn, this.maxInboundBuffer, () => {
      this.stats.inboundOverflows++
      conn.destroy()
    })
    conn.once('close', () => {
      unguard()
      this.driver.dispatch({ type: 'connection-closed', connectionId })
      this.connections.delete(connectionId)
    })
    // 'readable' reports buffered data without consuming it, so nothing is lost before
    // the store starts reading.
    const ondata = (): void => {
      if (entry.sawData) return
      entry.sawData = true
      conn.removeListener('readable', ondata)
      conn.removeListener('data', ondata)
      this.driver.dispatch({ type: 'connection-data', connectionId })
    }
    conn.on('readable', ondata)
    entry.ondata = ondata
    this.driver.dispatch({
      type: 'connection-opened',
      connectionId,
      remoteKey: bytesToHex(remotePublicKey),
      isInitiator: conn.isInitiator,
    })
  }

  private run(effect: CoreEffect): void {
    switch (effect.type) {
      case 'join-topic':
        this.joinTopic(effect.topic, effect.op, effect.announce, effect.lookup)
        return
      case 'leave-topic':
        this.leaveTopic(effect.topic, effect.op)
        return
      case 'flush-swarm': {
        const failed = (err: unknown): void =>
          this.driver.dispatch({
            type: 'swarm-flush-failed',
            topic: effect.topic,
            op: effect.op,
            error: {
              code: ErrorCode.FLUSH_FAILED,
              message: `swarm flush failed: ${messageOf(err)}`,
            },
          })
        this.withSwarm(
          (swarm) =>
            swarm.flush().then(
              () =>
                this.driver.dispatch({
                  type: 'swarm-flushed',
                  topic: effect.topic,
                  op: effect.op,
                }),
              failed,
            ),
          failed,
        )
        return
      }
      case 'authenticate':
        this.authenticate(effect.connectionId)
        return
      case 'keep-connection':
        this.keep(effect.connectionId)
        return
      case 'drop-connection': {
        const entry = this.connections.get(effect.connectionId)
        entry?.conn.destroy()
        return
      }
      case 'peer-add': {
        const entry = this.connections.get(effect.connectionId)
        if (entry === undefined || entry.failed) return
        const { type, remoteAddress } = describeTransport(entry.conn)
        const peer: NetworkerPeer = {
          remotePublicKey: entry.remotePublicKey,
          remoteAddress,
          type,
          stream: entry.conn,
        }
        entry.peer = peer
        this.peers.add(peer)
        // Before the user hears of the peer, so a send from 'peer-add' finds its channel.
        this.extensions.attach(peer)
        this.emitUser(() => this.emit('peer-add', peer))
        return
      }
      case 'peer-remove': {
        const peer = this.connections.get(effect.connectionId)?.peer
        if (peer === undefined || peer === null) return
        this.peers.delete(peer)
        this.extensions.detach(peer)
        this.emitUser(() => this.emit('peer-remove', peer))
        return
      }
      case 'settle': {
        const pending = this.requests.get(effect.requestId)
        if (pending === undefined) return
        this.requests.delete(effect.requestId)
        if (effect.error === undefined) pending.resolve(effect.report)
        else pending.reject(toError(effect.error))
        return
      }
      case 'destroy-swarm':
        this.extensions.destroyAll()
        this.sessions.clear()
        this.withSwarm(
          (swarm) =>
            swarm.destroy().then(
              () => this.finishClose(),
              () => this.finishClose(),
            ),
          () => this.finishClose(),
        )
        return
    }
  }

  private finishClose(): void {
    this.driver.dispatch({ type: 'swarm-destroyed' })
    this.driver.stop()
    this.ownSwarm?.removeListener('connection', this.onconnection)
    this.unwatchDht()
    this.flushBarriers.clear()
  }

  /** A topic changed: tell the user (after the effects of the event that changed it). */
  private onnotice(notice: TopicNotice): void {
    const { topic } = notice
    const discoveryKey = (): Buffer => b4a.from(hexToBytes(topic))
    if (notice.type === 'joined') {
      this.emitUser(() => this.emit('joined', discoveryKey()))
      return
    }
    if (notice.type === 'left') {
      this.flushBarriers.delete(topic)
      this.emitUser(() => this.emit('left', discoveryKey()))
      return
    }
    // Flushed: the swarm flushed and every connection it found is settled. The flush also
    // covers replication: wait until the peers found for this topic replicate its core.
    const epoch = ++this.flushEpoch
    const current = (): boolean => this.flushBarriers.get(topic)?.epoch === epoch
    const barrier = { epoch, promise: Promise.resolve() }
    this.flushBarriers.set(topic, barrier)
    barrier.promise = waitForReplication({
      store: this.store,
      topic,
      peers: () => this.peersFoundFor(topic),
      clock: this.clock,
      timeout: this.flushReplicationTimeout,
      cancelled: () => this.core.lifeState !== 'open' || !current(),
    }).then(() => {
      // A newer flush, a leave or a close made this one moot: its 'flushed' is not news.
      if (!current() || !this.flushed(topic)) return
      this.emitUser(() => this.emit('flushed', discoveryKey()))
    })
  }

  /** Remote keys of the current peers whose swarm record says our lookups found them for `topic`. */
  private peersFoundFor(topic: KeyHex): Uint8Array[] {
    const keys: Uint8Array[] = []
    for (const entry of this.connections.values()) {
      if (entry.peer === null || !this.peers.has(entry.peer)) continue
      if (topicsOf(entry.info).some((t) => bytesToHex(t) === topic))
        keys.push(entry.remotePublicKey)
    }
    return keys
  }

  /**
   * Runs one user emit, isolated: every emit is the last thing its effect does, so a
   * listener that throws leaves nothing half done, and the effects after it still run. The
   * error is reported the Node way: as 'error' (LISTENER_FAILED, the thrown value as
   * `cause`) when someone listens for it, else re-thrown on its own turn as an uncaught
   * exception, once the networker's own work is done.
   */
  private emitUser(emit: () => void): void {
    try {
      emit()
    } catch (err) {
      if (this.listenerCount('error') === 0) {
        queueMicrotask(() => {
          throw err
        })
        return
      }
      const failed = new NetworkerError(
        ErrorCode.LISTENER_FAILED,
        `a listener threw: ${messageOf(err)}`,
        { cause: err },
      )
      try {
        this.emit('error', failed)
      } catch (again) {
        queueMicrotask(() => {
          throw again
        })
      }
    }
  }

  private joinTopic(topic: KeyHex, op: number, announce: boolean, lookup: boolean): void {
    const key = b4a.from(hexToBytes(topic))
    const opts = { server: announce, client: lookup }
    const attempt = async (): Promise<void> => {
      const swarm = this.ownSwarm ?? (await this.swarmReady)
      let session = this.sessions.get(topic)
      if (session?.refresh !== undefined) {
        await session.refresh(opts)
      } else {
        session = swarm.join(key, opts)
        this.sessions.set(topic, session)
      }
      await session.flushed()
    }
    attempt().then(
      () => this.driver.dispatch({ type: 'topic-joined', topic, op }),
      (err: unknown) =>
        this.driver.dispatch({
          type: 'topic-join-failed',
          topic,
          op,
          error: {
            code: ErrorCode.TOPIC_JOIN_FAILED,
            message: `joining the topic failed: ${messageOf(err)}`,
          },
        }),
    )
  }

  private leaveTopic(topic: KeyHex, op: number): void {
    this.sessions.delete(topic)
    const key = b4a.from(hexToBytes(topic))
    const leave = async (): Promise<unknown> =>
      (this.ownSwarm ?? (await this.swarmReady)).leave(key)
    leave().then(
      () => this.driver.dispatch({ type: 'topic-left', topic, op }),
      (err: unknown) =>
        this.driver.dispatch({
          type: 'topic-leave-failed',
          topic,
          op,
          error: {
            code: ErrorCode.TOPIC_LEAVE_FAILED,
            message: `leaving the topic failed: ${messageOf(err)}`,
          },
        }),
    )
  }

  private authenticate(connectionId: ConnectionId): void {
    const entry = this.connections.get(connectionId)
    const hook = this.onauthenticate
    if (entry === undefined || hook === null) return
    const context = {
      ...describeTransport(entry.conn),
      isInitiator: entry.conn.isInitiator,
      topics: topicsOf(entry.info).map((t) => b4a.from(t)),
    }
    runAuthenticate(
      hook,
      entry.remotePublicKey,
      context,
      this.authenticateTimeout,
      this.clock,
    ).then((accepted) =>
      this.driver.dispatch({ type: 'connection-authenticated', connectionId, accepted }),
    )
  }

  private keep(connectionId: ConnectionId): void {
    const entry = this.connections.get(connectionId)
    if (entry === undefined) return
    try {
      this.store.replicate(entry.conn)
    } catch (err) {
      // A store that cannot replicate this stream: drop it rather than keep a dead peer. The
      // core still holds it as kept until the close arrives; it is never listed meanwhile.
      entry.failed = true
      entry.conn.destroy(err instanceof Error ? err : new Error(String(err)))
      return
    }
    if (!entry.sawData) entry.conn.on('data', entry.ondata)
  }
}

function noop(): void {}

/** The topics a swarm's peer record lists (Hyperswarm's PeerInfo.topics), as bytes. */
function topicsOf(info: { topics?: unknown } | undefined): Uint8Array[] {
  return Array.isArray(info?.topics)
    ? info.topics.filter((t): t is Uint8Array => t instanceof Uint8Array)
    : []
}

function parseExtensionArgs<T>(
  nameOrSpec: unknown,
  spec: ExtensionSpec<T> | undefined,
): { name: string; handlers: ExtensionSpec<T> } {
  let name: unknown = nameOrSpec
  let handlers: unknown = spec
  if (typeof nameOrSpec === 'object' && nameOrSpec !== null) {
    name = (nameOrSpec as { name?: unknown }).name
    handlers = nameOrSpec
  }
  if (typeof name !== 'string' || name.length === 0) {
    throw new NetworkerError(
      ErrorCode.INVALID_OPTION,
      `an extension needs a non-empty string name, got ${describe(name)}`,
    )
  }
  if (handlers === undefined) handlers = {}
  if (typeof handlers === 'function') return { name, handlers: handlers as ExtensionSpec<T> }
  if (typeof handlers !== 'object' || handlers === null) {
    throw new NetworkerError(
      ErrorCode.INVALID_OPTION,
      `extension handlers must be an object or a function, got ${describe(handlers)}`,
    )
  }
  resolveEncodingCheck(handlers as ExtensionHandlers<T>)
  return { name, handlers: handlers as ExtensionHandlers<T> }
}

/** Validates handler fields up front so a bad registration throws at the call, not later. */
function resolveEncodingCheck<T>(handlers: ExtensionHandlers<T>): void {
  for (const key of ['onmessage', 'onerror'] as const) {
    const fn = handlers[key]
    if (fn !== undefined && typeof fn !== 'function') {
      throw new NetworkerError(
        ErrorCode.INVALID_OPTION,
        `extension ${key} must be a function, got ${describe(fn)}`,
      )
    }
  }
  const max = handlers.maxMessageSize
  if (max !== undefined && (typeof max !== 'number' || !(max > 0))) {
    throw new NetworkerError(
      ErrorCode.INVALID_OPTION,
      'extension maxMessageSize must be a positive number of bytes',
    )
  }
  resolveEncoding(handlers.encoding)
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

function publicReport(report: CoreCloseReport | undefined): CloseReport {
  return {
    unannounced: (report?.unannounced ?? []).map((topic) => b4a.from(hexToBytes(topic))),
    forced: report?.forced ?? false,
  }
}

function isAbortSignal(value: unknown): value is AbortSignal {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as AbortSignal).addEventListener === 'function' &&
    typeof (value as AbortSignal).aborted === 'boolean'
  )
}

function publicStatus(s: TopicStatus): TopicStatusInfo {
  return {
    discoveryKey: b4a.from(hexToBytes(s.topic)),
    announce: s.announce,
    lookup: s.lookup,
    joined: s.joined,
    flushed: s.flushed,
  }
}

function booleanOption(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') {
    throw new NetworkerError(
      ErrorCode.INVALID_OPTION,
      `option ${name} must be a boolean, got ${describe(value)}`,
    )
  }
  return value
}

function hyperswarmOptions(opts: NetworkerOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(opts)) if (!OWN_OPTIONS.has(k)) out[k] = v
  if (opts.keyPair !== undefined) out.keyPair = opts.keyPair
  return out
}

function validateOptions(store: unknown, opts: unknown): asserts opts is NetworkerOptions {
  if (
    typeof store !== 'object' ||
    store === null ||
    typeof (store as ReplicatingStore).replicate !== 'function'
  ) {
    throw new NetworkerError(
      ErrorCode.INVALID_OPTION,
      `store must be a Corestore (an object with replicate(stream)), got ${describe(store)}`,
    )
  }
  if (typeof opts !== 'object' || opts === null) {
    throw new NetworkerError(
      ErrorCode.INVALID_OPTION,
      `options must be an object, got ${describe(opts)}`,
    )
  }
  const o = opts as Record<string, unknown>
  if (o.keyPair !== undefined) {
    const kp = o.keyPair as Partial<KeyPair> | null
    const ok =
      typeof kp === 'object' &&
      kp !== null &&
      kp.publicKey instanceof Uint8Array &&
      kp.publicKey.byteLength === 32 &&
      kp.secretKey instanceof Uint8Array &&
      kp.secretKey.byteLength === 64
    if (!ok) {
      throw new NetworkerError(
        ErrorCode.INVALID_OPTION,
        'keyPair must be { publicKey: 32 bytes, secretKey: 64 bytes } (a Noise/ed25519 key pair)',
      )
    }
  }
  if (o.onauthenticate !== undefined && typeof o.onauthenticate !== 'function') {
    throw new NetworkerError(
      ErrorCode.INVALID_OPTION,
      `onauthenticate must be a function, got ${describe(o.onauthenticate)}`,
    )
  }
  const timeout = o.authenticateTimeout
  if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout > 0))) {
    throw new NetworkerError(
      ErrorCode.INVALID_OPTION,
      'authenticateTimeout must be a positive number of ms',
    )
  }
  const max = o.maxMessageSize
  if (max !== undefined && (typeof max !== 'number' || !(max > 0))) {
    throw new NetworkerError(
      ErrorCode.INVALID_OPTION,
      'maxMessageSize must be a positive number of bytes',
    )
  }
  const inbound = o.maxInboundBuffer
  if (inbound !== undefined && (typeof inbound !== 'number' || !(inbound > 0))) {
    throw new NetworkerError(
      ErrorCode.INVALID_OPTION,
      'maxInboundBuffer must be a positive number of bytes',
    )
  }
  // Finite: a timer of Infinity ms fires at once, and an unbounded hold is no bound.
  const held = o.maxHeldBytes
  if (held !== undefined && (typeof held !== 'number' || !(held > 0) || !Number.isFinite(held))) {
    throw new NetworkerError(
      ErrorCode.INVALID_OPTION,
      'maxHeldBytes must be a positive, finite number of bytes',
    )
  }
  const hold = o.extensionHoldTimeout
  if (hold !== undefined && (typeof hold !== 'number' || !(hold > 0) || !Number.isFinite(hold))) {
    throw new NetworkerError(
      ErrorCode.INVALID_OPTION,
      'extensionHoldTimeout must be a positive, finite number of ms',
    )
  }
  const maxPeers = o.maxPeers
  if (maxPeers !== undefined && (typeof maxPeers !== 'number' || !(maxPeers >= 0))) {
    throw new NetworkerError(ErrorCode.INVALID_OPTION, 'maxPeers must be a non-negative number')
  }
  if (o.swarm !== undefined && !isSwarmLike(o.swarm)) {
    throw new NetworkerError(
      ErrorCode.INVALID_OPTION,
      'swarm must be Hyperswarm-shaped (join, leave, flush, on, destroy, keyPair)',
    )
  }
}
