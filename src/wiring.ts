import type { EventEmitter } from 'node:events'
import { type KeyHex, publicKeyToHex } from './core/keys.js'
import { NetworkerCore } from './core/networker-core.js'
import type { CoreEvent } from './core/protocol.js'
import { emitIsolated, type NetworkerEvents } from './events.js'
import { Adopter } from './io/adopt.js'
import { zeroHandshakeCounters } from './io/adopt-counters.js'
import { ConnectionTable, type ReplicatingStore } from './io/connections.js'
import { CoreDriver, type DriverClock } from './io/core-driver.js'
import { EffectRunner } from './io/effects.js'
import { ExtensionRegistry } from './io/extension-registry.js'
import { wantsDerivedIdentity } from './io/identity.js'
import { zeroLanCounters } from './io/lan-counters.js'
import { LanDiscovery, lanTcpPort } from './io/lan-discovery.js'
import { NetworkerObserver } from './io/observer.js'
import type { NetworkerPeer } from './io/peer.js'
import { PeerAwareness } from './io/peer-awareness.js'
import { planPersist, RememberedConfig } from './io/remembered-config.js'
import { FlushBarriers } from './io/replication-barrier.js'
import { PendingRequests } from './io/requests.js'
import type { SwarmConnection } from './io/swarm.js'
import { SwarmAdapter } from './io/swarm-adapter.js'
import { SwarmRetries } from './io/tcp-swarm-retries.js'
import { TcpTransports } from './io/tcp-transports.js'
import { bytesOf, hexOf, noop } from './io/util.js'
import { attachMetrics, checkMetricsOption, type MetricsHandle } from './metrics/attach.js'
import { sampleOf } from './metrics/sample.js'
import { type NetworkerOptions, settingsOf } from './options.js'
import { collectTotals, type StatsSources } from './stats.js'

/** Everything one networker is made of: the core, its driver, and the I/O parts it drives. */
export interface NetworkerParts {
  readonly core: NetworkerCore
  readonly driver: CoreDriver
  readonly clock: DriverClock
  readonly connections: ConnectionTable
  readonly adapter: SwarmAdapter
  readonly requests: PendingRequests
  readonly barriers: FlushBarriers
  readonly extensions: ExtensionRegistry
  /** Topics shared per peer, liveness, reconnection, and why we closed what we closed. */
  readonly awareness: PeerAwareness
  /** Counts what happens to connections and peers, for `stats()`. */
  readonly observer: NetworkerObserver
  /** Streams from outside the swarm (`adopt`, direct TCP) brought into the same connections. */
  readonly adopter: Adopter
  /** Direct TCP: the listener, dials and fixed peers (see io/tcp-transports.ts). */
  readonly transports: TcpTransports
  /** LAN discovery (the `lan` option), or null when it is off. */
  readonly lan: LanDiscovery | null
  readonly statsSources: StatsSources
  /** Our part in the `metrics` registry, if one was given. */
  readonly metrics: MetricsHandle | null
  /** The remembered configuration (`persist`), if any. */
  readonly records: RememberedConfig | null
  readonly maxMessageSize: number
}

/**
 * Makes one networker's parts from its options and wires them: the I/O layer reports to the
 * core through the driver, the driver hands the core's effects to the effect runner, and
 * user events go out through `face`, each emitted isolated. Options are checked before
 * anything is made, so a bad option leaves nothing behind.
 */
export function wireNetworker(
  store: ReplicatingStore,
  opts: NetworkerOptions,
  face: EventEmitter<NetworkerEvents>,
): NetworkerParts {
  const settings = settingsOf(store, opts)
  // Checked with the other options, before anything is made; attached once all is made.
  if (opts.metrics !== undefined) checkMetricsOption(opts.metrics)
  const persist = planPersist(store, opts.persist)
  const { clock } = settings
  const emitUser = (emit: () => void): void => emitIsolated(face, emit)
  // Each peer's topics change on every topics handshake: with no one listening, no key's
  // bytes are made for it.
  const peerTopic =
    (event: 'peer-topic-add' | 'peer-topic-remove') =>
    (peer: NetworkerPeer, topic: KeyHex): void => {
      if (face.listenerCount(event) === 0) return
      emitUser(() => face.emit(event, peer, bytesOf(topic)))
    }
  const dispatch = (event: CoreEvent): void => driver.dispatch(event)
  const open = (): boolean => core.lifeState === 'open'
  const extensionCounters = { extensionMessagesDropped: 0, extensionFramesMalformed: 0 }
  const handshakeCounters = zeroHandshakeCounters()

  const core = new NetworkerCore({
    localKey: null,
    authenticate: settings.onauthenticate !== null,
    authenticateTimeout: settings.authenticateTimeout,
    ...(settings.maxPeers === undefined ? {} : { maxPeers: settings.maxPeers }),
  })
  // A flushing configure resolves after its flush's replication barrier, if that still waits.
  const requests = new PendingRequests((topic, deadline) => barriers.wait(topic, deadline))
  const observer = new NetworkerObserver(() => clock.now())
  const connections: ConnectionTable = new ConnectionTable({
    store,
    dispatch,
    onauthenticate: settings.onauthenticate,
    maxInboundBuffer: settings.maxInboundBuffer,
    clock,
    observer,
    ownClose: (conn, reason) => awareness.ownClose(conn, reason),
    dropped: (conn, reason) => adopter.dropped(conn, reason),
  })
  // Where every connection enters, the swarm's and adopted ones alike.
  const admit = (conn: SwarmConnection, info?: { topics?: unknown }): void => {
    // The remote key in hex, made once for both.
    const hex = hexOf(conn.remotePublicKey)
    swarmRetries.accepted(conn, hex)
    connections.accept(conn, info, hex)
  }
  const awareness: PeerAwareness = new PeerAwareness(settings.awareness, {
    clock,
    swarm: () => adapter.current,
    localKey: () => core.localKey,
    open,
    peerOf: (key) => connections.peerOf(key),
    topicAdded: peerTopic('peer-topic-add'),
    topicRemoved: peerTopic('peer-topic-remove'),
    dropped: (drop) => {
      // Counted under its reason when it closes (the core's own drops are marked already).
      if (drop.peer !== null) observer.closing(drop.peer.stream, drop.reason)
      emitUser(() => face.emit('connection-drop', drop))
    },
    proofError: (err, peer) => emitUser(() => face.emit('topic-proof-error', err, peer)),
  })
  const extensions = new ExtensionRegistry({
    clock,
    maxHeldBytes: settings.maxHeldBytes,
    holdTimeout: settings.extensionHoldTimeout,
    stats: extensionCounters,
    isPeer: (peer) => connections.peers.has(peer),
    findPeer: (key) => connections.peerOf(publicKeyToHex(key)),
    reportError: (err, extension, peer) => face.emit('extension-error', err, { extension, peer }),
    closing: () => !open(),
  })
  const barriers = new FlushBarriers({
    store,
    clock,
    timeout: settings.flushReplicationTimeout,
    peersFoundFor: (topic) => connections.foundFor(topic),
    closing: () => !open(),
  })
  // Peers found on the LAN are dialed over direct TCP, and reach us on our TCP listener: one
  // on any free port is opened for it unless `listen({ tcp })` opened one first.
  const lan =
    settings.lan === null
      ? null
      : new LanDiscovery(settings.lan, {
          clock,
          identity: async () => {
            const { keyPair } = await adapter.ready
            return { publicKey: keyPair.publicKey, port: await lanTcpPort(transports, clock) }
          },
          connected: (key) => connections.peerOf(key) !== null,
          dial: (target) => transports.dial(target),
        })
  const adapter: SwarmAdapter = new SwarmAdapter(
    {
      given: opts.swarm,
      hyperswarm: settings.hyperswarm,
      // One identity across restarts: a persisting networker derives its key pair.
      deriveFrom: wantsDerivedIdentity(store, opts) ? store : null,
      lan:
        lan === null || settings.lan === null
          ? null
          : { link: lan, clock, dhtWait: settings.lan.dhtWait },
    },
    {
      topics: awareness.proofs.claims,
      dispatch,
      identified: (key) => core.identify(key),
      connection: admit,
      dhtChanged: (status) => emitUser(() => face.emit('dht-status', status)),
    },
  )
  const adopter: Adopter = new Adopter({
    clock,
    handshakeTimeout: settings.handshakeTimeout,
    counts: handshakeCounters,
    keyPair: async () => (await adapter.ready).keyPair,
    open,
    accept: admit,
    peerOf: (key) => connections.peerOf(key),
  })
  const transports = new TcpTransports({
    clock,
    adopter,
    counts: handshakeCounters,
    handshakeTimeout: settings.handshakeTimeout,
    ...settings.tcp,
    open,
    peerOf: (key) => connections.peerOf(key),
    foundAgain: (peer, topics) => connections.foundAgain(peer, topics),
    failed: (err, remoteAddress) =>
      emitUser(() => face.emit('transport-error', err, { remoteAddress })),
  })
  const swarmRetries = new SwarmRetries({
    swarm: () => adapter.current,
    isAdopted: (conn) => adopter.isAdopted(conn),
    peerOf: (key) => connections.peerOf(key),
  })
  // The fixed peers are dialed once our identity (the swarm's key pair) is known.
  adapter.ready.then(() => transports.start(), noop)
  const records =
    persist === null
      ? null
      : new RememberedConfig(persist, {
          skipped: (err, key) => face.emit('record-skipped', err, { key }),
          failed: (err) => face.emit('persist-error', err),
        })
  const effects = new EffectRunner({
    swarm: adapter,
    connections,
    requests,
    extensions,
    barriers,
    observer,
    user: {
      peerAdded: (peer) => {
        awareness.added(peer)
        adopter.peerAdded(peer)
        transports.added(peer)
        swarmRetries.added(peer)
        emitUser(() => face.emit('peer-add', peer))
      },
      peerRemoved: (peer) => {
        // Before the peer's topics are forgotten: the LAN is asked again for them.
        lan?.peerLost(peer.topics)
        awareness.removed(peer)
        transports.removed(peer)
        swarmRetries.removed(peer)
        emitUser(() => face.emit('peer-remove', peer))
      },
      topic: (event, topic) => {
        // Every configure joins and flushes: with no one listening, no key is made for it.
        if (face.listenerCount(event) === 0) return
        emitUser(() => face.emit(event, bytesOf(topic)))
      },
      listens: (event) => face.listenerCount(event) > 0,
    },
    dispatch,
    stopDriver: () => driver.stop(),
    teardown: () => records?.close(),
    flushed: (topic) => core.status(topic)?.flushed ?? false,
    looked: (topic) => awareness.proofs.refreshFound(topic),
  })
  const driver: CoreDriver = new CoreDriver(core, clock, {
    run: (effect) => {
      effects.run(effect)
      awareness.effect(effect)
    },
    notice: (notice) => effects.notice(notice),
    handled: () => effects.handled(),
  })
  const statsSources: StatsSources = {
    counts: observer.counts,
    closedTransport: observer.closedTransport,
    extensionCounters,
    lan: lan?.counters ?? zeroLanCounters(),
    handshakes: handshakeCounters,
    connections: () => connections.views(),
    topics: () => core.statuses(),
    ageOf: (peer) => observer.ageOf(peer),
    extensionsOf: (peer) => extensions.countsOf(peer),
    extensionTotals: () => extensions.countTotals(),
    dht: () => (adapter.current as { dht?: unknown } | null)?.dht ?? null,
  }
  // Sampled when scraped, never in between.
  const metrics =
    opts.metrics === undefined
      ? null
      : attachMetrics(opts.metrics, () => {
          const { totals, rttMs } = collectTotals(statsSources)
          return sampleOf(totals, rttMs, adapter.dhtStatus)
        })
  return {
    core,
    driver,
    clock,
    connections,
    adapter,
    requests,
    barriers,
    extensions,
    awareness,
    observer,
    adopter,
    transports,
    lan,
    statsSources,
    metrics,
    records,
    maxMessageSize: settings.maxMessageSize,
  }
}
