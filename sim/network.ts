import b4a from 'b4a'
import crypto from 'hypercore-crypto'
import type { KeyPair, SwarmConnection } from '../src/io/swarm.js'
import { SimDht } from './dht.js'
import type { InvariantViolation } from './invariant.js'
import { LanPort } from './lan.js'
import { Link, type SimRawStream, type SimTransport } from './link.js'
import { Prng } from './prng.js'
import { StandInSecretStream } from './stand-in-stream.js'
import { SimSwarm, secretStreamPair } from './swarm.js'
import { VirtualClock } from './virtual-clock.js'

const NO_SWARMS: readonly SimSwarm[] = []

/** Already resolved: `RESOLVED.then(fn)` queues `fn` as a promise job at once. */
const RESOLVED: Promise<void> = Promise.resolve()

/** Probabilities and sizes of everything that can go wrong; each run draws its own (swarm testing). */
export interface FaultPlan {
  /** A new connection is cut at a random moment: before, during or after its handshake. */
  dropNewConnection: number
  /** A dial is answered by a dial the other way at the same instant. */
  simultaneousDial: number
  /**
   * A dial is raced by one over the other transport: at the same instant from the other end
   * (each found the other its own way) or from the same end (the DHT and the LAN both found
   * it), or later, from either end, to a connection already up (Hyperswarm dials a key it
   * found whatever the host holds over TCP). Only where both transports reach.
   */
  crossTransportDial: number
  /** An announce never reaches the DHT. */
  lostAnnounce: number
  /** Most extra DHT delay (ms). */
  maxDhtDelay: number
  /** Probability that a flush is slow, and by how much at most (ms). */
  slowFlush: number
  maxFlushDelay: number
}

export const NO_FAULTS: FaultPlan = {
  dropNewConnection: 0,
  simultaneousDial: 0,
  crossTransportDial: 0,
  lostAnnounce: 0,
  maxDhtDelay: 20,
  slowFlush: 0,
  maxFlushDelay: 0,
}

export interface NetworkOptions {
  seed: number
  faults?: Partial<FaultPlan>
  /** How often swarms re-announce and look up again (virtual ms). Default 5 s. */
  refreshInterval?: number
  /**
   * Run real Noise secret streams on the simulated wires. Default false: a stand-in with
   * the same interface and handshake shape but no cryptography (stand-in-stream.ts).
   */
  realNoise?: boolean
  /**
   * What connections run on. Default `['udx']`: the DHT and Hyperswarm's swarms only. With
   * `'tcp'`, hosts on one LAN segment (`attachLan`) also find and dial each other directly;
   * without `'udx'` there is no DHT at all, only the segments.
   */
  transports?: readonly SimTransport[]
  /** Tasks the clock runs per event-loop turn (VirtualClockOptions): the run is the same whatever it is. */
  tasksPerTurn?: number
  /** TCP closes with a FIN (Link.finToClose, 0-5 ms). Default false: runs replay as before. */
  tcpFin?: boolean
}

/** Counts of injected faults, by kind. */
export type FaultCounts = Record<string, number>

/**
 * An in-memory network: a DHT, wires with latency, swarms for nodes, partitions that heal,
 * crashes. One seeded PRNG decides everything; one virtual clock orders everything.
 */
export class SimNetwork {
  readonly clock: VirtualClock
  readonly prng: Prng
  /**
   * Real Noise's ephemeral keys (`realNoise`): drawn from their own generator, seeded from the
   * run's seed, so a run with real Noise replays and draws nothing from `prng` (whose draws
   * decide the run, the same with real Noise as with the stand-in).
   */
  private readonly noisePrng: Prng
  readonly dht: SimDht
  readonly faults: FaultPlan
  readonly refreshInterval: number
  readonly realNoise: boolean
  private readonly tcpFin: boolean
  readonly injected: FaultCounts = {}
  readonly swarms = new Map<number, SimSwarm>()
  /**
   * The swarms of each public key (hex), in the order they were made (as in `swarms`): a
   * node's restarts share its key. A redial finds its target here instead of comparing the
   * key with every swarm's.
   */
  private readonly swarmsByKey = new Map<string, SimSwarm[]>()
  /** The LAN side of each host on a segment, by swarm id. */
  readonly lanPorts = new Map<number, LanPort>()
  private readonly segments = new Map<number, LanPort[]>()
  /** Whether there is a DHT (UDX connections) and LAN segments (TCP connections). */
  readonly udx: boolean
  readonly tcp: boolean
  readonly links = new Set<Link>()
  /** The live links of each node, in the order they were made (as in `links`). */
  private readonly linksOf = new Map<number, Set<Link>>()
  /** Every link ever made, for checks over the whole run. */
  readonly history: Link[] = []
  /** The first broken invariant, seen from inside a callback; the runner raises it. */
  violation: InvariantViolation | null = null

  violate(v: InvariantViolation): void {
    if (this.violation === null) this.violation = v
  }

  /** Called when a node closes one of its links itself. */
  onEndClosed: ((link: Link, by: number) => void) | null = null
  private readonly blocked = new Set<number>()
  private nextNode = 0
  private nextLink = 0

  constructor(opts: NetworkOptions) {
    this.clock = new VirtualClock({ tasksPerTurn: opts.tasksPerTurn })
    this.prng = new Prng(opts.seed)
    this.noisePrng = new Prng(opts.seed ^ NOISE_SEED)
    this.faults = { ...NO_FAULTS, ...opts.faults }
    this.refreshInterval = opts.refreshInterval ?? 5000
    this.realNoise = opts.realNoise ?? false
    this.tcpFin = opts.tcpFin ?? false
    const transports = opts.transports ?? ['udx']
    this.udx = transports.includes('udx')
    this.tcp = transports.includes('tcp')
    const faults = this.faults
    this.dht = new SimDht(
      this.clock,
      this.prng.fork(),
      {
        // Read at each operation: once the scenario stops faults, announces stop getting lost
        // (a copy taken here kept losing them through quiescence).
        get lostAnnounce() {
          return faults.lostAnnounce
        },
        get maxDelay() {
          return faults.maxDhtDelay
        },
      },
      (node) => this.swarms.get(node)?.dhtReachable === true,
    )
  }

  /** A deterministic key pair from the seed. */
  keyPair(): KeyPair {
    return crypto.keyPair(this.prng.bytes(32))
  }

  /** A swarm for a new node, or for a restarted one (same key pair, new id). */
  createSwarm(keyPair: KeyPair = this.keyPair()): SimSwarm {
    const swarm = new SimSwarm(this.nextNode++, keyPair, this)
    swarm.dhtReachable = this.udx
    this.swarms.set(swarm.id, swarm)
    const key = b4a.toString(keyPair.publicKey, 'hex')
    const same = this.swarmsByKey.get(key)
    if (same === undefined) this.swarmsByKey.set(key, [swarm])
    else same.push(swarm)
    return swarm
  }

  /** Every swarm made with this public key, in the order they were made. */
  swarmsWithKey(publicKey: Uint8Array): readonly SimSwarm[] {
    return this.swarmsByKey.get(b4a.toString(publicKey, 'hex')) ?? NO_SWARMS
  }

  /**
   * Puts a swarm's host on a LAN segment: hosts there find each other by topic and connect
   * over TCP, handed to `onStream` (a secret stream, its handshake under way). Needs `'tcp'`
   * among the transports.
   */
  attachLan(swarm: SimSwarm, segment: number, onStream: (s: SwarmConnection) => void): LanPort {
    if (!this.tcp) throw new Error("attachLan needs 'tcp' among the network's transports")
    const port = new LanPort(swarm, segment, this, onStream)
    swarm.lan = port
    this.lanPorts.set(swarm.id, port)
    let members = this.segments.get(segment)
    if (members === undefined) {
      members = []
      this.segments.set(segment, members)
    }
    members.push(port)
    return port
  }

  /** The LAN sides on a segment, in the order they joined it. */
  segment(segment: number): readonly LanPort[] {
    return this.segments.get(segment) ?? []
  }

  /**
   * Cuts a host off from the DHT, or lets it back (a network without a DHT keeps it off).
   * Cut off, its UDX connections break and it cannot dial or be dialed over UDX; its LAN
   * segment still works.
   */
  setDhtReachable(swarm: SimSwarm, reachable: boolean): void {
    const now = reachable && this.udx
    if (swarm.dhtReachable === now) return
    swarm.dhtReachable = now
    if (!now) {
      for (const link of [...(this.linksOf.get(swarm.id) ?? [])]) {
        if (link.transport === 'udx') link.cut('dht-unreachable')
      }
    } else if (swarm.alive) {
      swarm.dhtBack()
    }
  }

  /** Whether two hosts can connect now, by any transport. */
  reachable(a: SimSwarm, b: SimSwarm): boolean {
    return !this.isBlocked(a.id, b.id) && (this.reaches('udx', a, b) || this.reaches('tcp', a, b))
  }

  private reaches(transport: SimTransport, a: SimSwarm, b: SimSwarm): boolean {
    if (transport === 'udx') return a.dhtReachable && b.dhtReachable
    return a.lan !== null && b.lan !== null && a.lan.segment === b.lan.segment
  }

  count(kind: string): void {
    this.injected[kind] = (this.injected[kind] ?? 0) + 1
  }

  /** Hyperswarm-like retry delay: doubling per failed attempt, with jitter, capped. */
  backoff(attempts: number): number {
    const base = Math.min(200 * 2 ** Math.min(attempts, 7), 20_000)
    return base + this.prng.int(0, base)
  }

  async slowFlush(): Promise<void> {
    if (!this.prng.chance(this.faults.slowFlush)) return
    this.count('slow-flush')
    const delay = this.prng.int(1, Math.max(1, this.faults.maxFlushDelay))
    await new Promise<void>((r) => this.clock.schedule(delay, r))
  }

  isBlocked(a: number, b: number): boolean {
    return this.blocked.has(pairKey(a, b))
  }

  /** Splits the nodes in two groups until `duration` has passed; links across are cut. */
  partition(group: number[], duration: number): void {
    this.count('partition')
    const inside = new Set(group)
    const pairs: number[] = []
    for (const a of this.swarms.keys()) {
      for (const b of this.swarms.keys()) {
        if (a < b && inside.has(a) !== inside.has(b)) pairs.push(pairKey(a, b))
      }
    }
    for (const p of pairs) this.blocked.add(p)
    for (const link of this.links) {
      if (this.blocked.has(pairKey(link.nodeA, link.nodeB))) link.cut('partition')
    }
    this.clock.schedule(duration, () => {
      for (const p of pairs) this.blocked.delete(p)
    })
  }

  /** Cuts one live link chosen at random, if any. */
  dropRandomLink(): boolean {
    const live = [...this.links].filter((l) => !l.broken)
    if (live.length === 0) return false
    this.prng.pick(live).cut('fault')
    this.count('drop-connection')
    return true
  }

  cutAll(node: number, reason: string): void {
    for (const link of [...(this.linksOf.get(node) ?? [])]) {
      // A silenced wire tells the other end nothing, but the node's own end goes with it.
      if (link.cutReason === 'silent') link.endOf(node).destroy()
      else link.cut(reason)
    }
  }

  /**
   * Opens a wire and a Noise handshake from one node to another, after a connect delay; then
   * `done` runs as a promise job. A task, not an async function awaiting a promise the task
   * resolves (whose job only resumed it), with `done` queued where its `.finally` was: the
   * same work in the same order, without a dial's promises and closures.
   */
  dial(from: number, to: number, topics: Buffer[], done?: () => void): void {
    const latency = this.latency('udx')
    this.clock.schedule(latency, () => {
      try {
        this.dialNow(from, to, topics, latency)
      } finally {
        if (done !== undefined) RESOLVED.then(done)
      }
    })
  }

  private dialNow(from: number, to: number, topics: Buffer[], latency: number): void {
    const a = this.swarms.get(from)
    const b = this.swarms.get(to)
    if (a === undefined || b === undefined || !a.alive || !b.alive || this.isBlocked(from, to))
      return
    if (!a.dhtReachable || !b.dhtReachable || a.connectedTo(to)) return
    this.connect(a, b, topics, latency, 'udx')
    this.race(a, b, latency, 'udx')
  }

  /** Opens a TCP connection between two hosts on one LAN segment, after a connect delay (as `dial`). */
  dialTcp(from: number, to: number): void {
    const latency = this.latency('tcp')
    this.clock.schedule(latency, () => this.dialTcpNow(from, to, latency))
  }

  private dialTcpNow(from: number, to: number, latency: number): void {
    const a = this.swarms.get(from)
    const b = this.swarms.get(to)
    if (a === undefined || b === undefined || this.isBlocked(from, to)) return
    if (a.lan?.alive !== true || b.lan?.alive !== true || !this.reaches('tcp', a, b)) return
    if (a.connectedTo(to)) return
    this.connect(a, b, [], latency, 'tcp')
    this.race(a, b, latency, 'tcp')
  }

  /** The injected races of a dial that just connected a to b over `transport`. */
  private race(a: SimSwarm, b: SimSwarm, latency: number, transport: SimTransport): void {
    if (this.prng.chance(this.faults.simultaneousDial)) {
      // Both found each other at once: b dials too before either handshake is done, the race
      // Hyperswarm cannot rule out.
      this.count('simultaneous-dial')
      this.connect(b, a, [], latency, transport)
    }
    // Drawn only where both transports exist, so a run with one replays as it always did.
    if (!this.udx || !this.tcp) return
    const other: SimTransport = transport === 'udx' ? 'tcp' : 'udx'
    if (!this.prng.chance(this.faults.crossTransportDial) || !this.reaches(other, a, b)) return
    this.count('cross-transport-dial')
    // Its own latency: over another path the two handshakes may finish in either order.
    const own = this.latency(other)
    const [from, to] = this.prng.chance(0.5) ? [b, a] : [a, b]
    if (this.prng.chance(2 / 3)) {
      this.connect(from, to, [], own, other)
      return
    }
    // Late: once the first connection may carry data both ways, so a duplicate meets a kept
    // connection that is active, over the other transport (the dedup's candidate path).
    this.clock.schedule(this.prng.int(20, 2000), () => {
      const up = from.alive && to.alive && !this.isBlocked(from.id, to.id)
      if (up && this.reaches(other, from, to)) this.connect(from, to, [], own, other)
    })
  }

  private holdLink(node: number, link: Link): void {
    let set = this.linksOf.get(node)
    if (set === undefined) {
      set = new Set()
      this.linksOf.set(node, set)
    }
    set.add(link)
  }

  // Shared by every link, instead of closures per link: a link and its ends say who they are.
  private readonly endClosed = (link: Link, by: number): void => this.onEndClosed?.(link, by)

  /** An end closed (`this` is the end): its node lets go of the link, and the network once both did. */
  private readonly endGone: (this: SimRawStream) => void = (() => {
    const network = this
    return function (this: SimRawStream): void {
      const link = this.link
      network.linksOf.get(this.node)?.delete(link)
      if (--link.openEnds === 0) network.links.delete(link)
    }
  })()

  /** A new connection's one-way latency (ms): a LAN hop is shorter than a path over the internet. */
  private latency(transport: SimTransport): number {
    return 1 + this.prng.int(0, transport === 'udx' ? 15 : 3)
  }

  private connect(
    a: SimSwarm,
    b: SimSwarm,
    topics: Buffer[],
    latency: number,
    transport: SimTransport,
  ): void {
    const link = new Link(
      this.nextLink++,
      this.clock,
      latency,
      a.address,
      b.address,
      a.id,
      b.id,
      transport,
      transport === 'tcp' && this.tcpFin ? this.prng.int(0, 5) : null,
    )
    this.links.add(link)
    this.holdLink(a.id, link)
    this.holdLink(b.id, link)
    this.history.push(link)
    link.onEndClosed = this.endClosed
    // Each node holds its end until that end closes: on a silenced wire (Link.silence) one end
    // may close long before the other, which must still go with its node if that node crashes.
    // A streamx stream says 'close' once: plain listeners, without once's wrapper and removal.
    link.a.on('close', this.endGone)
    link.b.on('close', this.endGone)
    const { a: sa, b: sb } = this.realNoise
      ? secretStreamPair(a.keyPair, b.keyPair, link.a, link.b, {
          a: crypto.keyPair(this.noisePrng.bytes(32)),
          b: crypto.keyPair(this.noisePrng.bytes(32)),
        })
      : {
          a: new StandInSecretStream(true, link.a, a.keyPair) as unknown as SwarmConnection,
          b: new StandInSecretStream(false, link.b, b.keyPair) as unknown as SwarmConnection,
        }
    if (transport === 'udx') {
      a.adopt(b.id, sa, topics)
      b.adopt(a.id, sb, [])
    } else {
      a.lan?.adopt(b.id, sa)
      b.lan?.adopt(a.id, sb)
    }
    if (this.prng.chance(this.faults.dropNewConnection)) {
      // Anywhere from before the handshake completes to well after it.
      const at = this.prng.int(0, latency * 6)
      this.count('drop-new-connection')
      this.clock.schedule(at, () => link.cut('fault'))
    }
  }
}

/** Mixed into the run's seed for the Noise keys' generator: any constant but 0. */
const NOISE_SEED = 0x6e6f6973

/** Node ids stay below this (a run makes one per node and restart): a pair fits one number. */
const IDS = 2 ** 26

/**
 * A pair of nodes, either way round, as one number: a partition blocks every pair across it,
 * and a number costs no string to make or to hash (thousands per partition at 50 nodes).
 */
export function pairKey(a: number, b: number): number {
  if (!Number.isInteger(a) || !Number.isInteger(b) || a < 0 || b < 0 || a >= IDS || b >= IDS) {
    throw new RangeError(`node ids must be integers in [0, 2^26): ${a}, ${b}`)
  }
  return a < b ? a * IDS + b : b * IDS + a
}
