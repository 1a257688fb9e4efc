import b4a from 'b4a'
import type { Extension } from '../src/io/extension.js'
import type { NetworkerPeer } from '../src/io/peer.js'
import type { KeyPair, SwarmConnection } from '../src/io/swarm.js'
import { Networker } from '../src/networker.js'
import { checkProvenTopic } from './awareness-checks.js'
import { InvariantViolation } from './invariant.js'
import { hex, KeyRecords } from './key-records.js'
import type { LanPort } from './lan.js'
import type { SimRawStream } from './link.js'
import { MALFORMED, strictCodec } from './malformed.js'
import type { SimNetwork } from './network.js'
import { SimStore } from './store.js'
import type { SimSwarm } from './swarm.js'

export interface TopicWish {
  announce: boolean
  lookup: boolean
}

export interface SimNodeOptions {
  /** The LAN segment the host is on (the network needs `'tcp'`), or null for none. Default null. */
  segment?: number | null
}

interface PendingRequest {
  what: string
  startedAt: number
  settledAt: number | null
  outcome: 'ok' | string | null
}

/**
 * The verdict a node's onauthenticate gives a key it turns away: made once. The hook's
 * `done(err)` only asks whether there is an error, and a pair turned away redials for the
 * whole run: a new Error per verdict was a stack trace captured each time.
 */
const REJECTED: Error = new Error('rejected by the scenario')

/**
 * One simulated host: the unchanged Networker on a SimSwarm, plus the bookkeeping the
 * invariants need (events seen, promises made, messages numbered per connection).
 */
export class SimNode {
  readonly name: string
  readonly keyPair: KeyPair
  /**
   * The public key in hex: the checks compare and look peers up by it for every pair of
   * nodes, so it is made once (the key pair never changes, a restart keeps it).
   */
  readonly key: string
  swarm: SimSwarm
  networker: Networker
  store = new SimStore()
  readonly wishes = new Map<string, TopicWish>()
  /** Remote keys this node's onauthenticate turns away. */
  readonly rejects = new Set<string>()
  crashed = false
  closed = false
  readonly requests: PendingRequest[] = []
  private ext!: Extension<{ seq: number }>
  private strict!: Extension<unknown>
  private readonly sent = new Map<SwarmConnection, number>()
  private readonly received = new Map<SwarmConnection, number>()
  /** Its record per remote key: peer events and checkPeers count through it. */
  private readonly keyRecords = new KeyRecords()
  /** Keys whose peer-add and peer-remove events leave them listed. */
  private listedKeys = 0
  /** Numbers checkPeers' passes: a key met twice in one pass is listed twice. */
  private checkPass = 0
  /**
   * For the flush invariant: how many connections the swarm emitted, and those not settled
   * yet by their emission index (a Map keeps them in emission order).
   */
  private emittedCount = 0
  private unsettled = new Map<SwarmConnection, number>()
  private lastEmitted: SwarmConnection | undefined = undefined
  private readonly emittedAtFlush: number[] = []
  /** Ids of every link this node ever kept as its peer connection. */
  readonly keptLinks = new Set<number>()
  messagesDelivered = 0
  malformedReported = 0
  /** The LAN segment this host is on, or null. */
  readonly segment: number | null
  /** The current process's LAN side, if the host is on a segment. */
  lan: LanPort | null = null
  /** Cut-offs from the DHT in force (they may overlap): reachable when there are none. */
  private dhtCutOffs = 0

  constructor(
    readonly index: number,
    private readonly net: SimNetwork,
    keyPair: KeyPair,
    private readonly authDelay: () => number,
    opts: SimNodeOptions = {},
  ) {
    this.name = `node-${index}`
    this.keyPair = keyPair
    this.key = hex(keyPair.publicKey)
    this.segment = opts.segment ?? null
    this.swarm = net.createSwarm(keyPair)
    this.networker = this.start()
  }

  /** Swarm (network node) ids this host has had: a restart gets a new one. */
  readonly swarmIds: number[] = []

  get alive(): boolean {
    return !this.crashed && !this.closed
  }

  /** Whether this host and `other` can connect now, by any transport. */
  canReach(other: SimNode): boolean {
    return this.net.reachable(this.swarm, other.swarm)
  }

  /** Connections, open or opening, this host holds to `other`: over UDX and over TCP. */
  connectionsTo(other: SimNode): number {
    const id = other.swarm.id
    return (this.swarm.streams.get(id)?.size ?? 0) + (this.lan?.streams.get(id)?.size ?? 0)
  }

  /** Cuts the host off from the DHT until as many `regainDht` calls: its LAN still works. */
  loseDht(): void {
    if (this.dhtCutOffs++ === 0) this.net.setDhtReachable(this.swarm, false)
  }

  regainDht(): void {
    if (--this.dhtCutOffs === 0) this.net.setDhtReachable(this.swarm, true)
  }

  private start(): Networker {
    const swarm = this.swarm
    this.swarmIds.push(swarm.id)
    // A restarted process is as cut off from the DHT as its host, and on the same segment.
    if (this.dhtCutOffs > 0) this.net.setDhtReachable(swarm, false)
    this.lan =
      this.segment === null
        ? null
        : this.net.attachLan(swarm, this.segment, (stream) => this.adoptTcp(stream))
    const originalFlush = swarm.flush.bind(swarm)
    swarm.flush = async () => {
      await originalFlush()
      this.emittedAtFlush.push(this.emittedCount)
    }
    // Registered before the networker's own listener, so the hook below knows its stream.
    swarm.on('connection', (stream: SwarmConnection) => {
      this.unsettled.set(stream, this.emittedCount++)
      this.lastEmitted = stream
      // 'close' comes once (a streamx stream): no once wrapper to make and remove per connection.
      stream.on('close', () => this.unsettled.delete(stream))
    })
    const networker = new Networker(this.store, {
      swarm,
      clock: this.net.clock,
      onauthenticate: (remote: Buffer, done: (err?: Error | null) => void, context) => {
        // A fresh key object per connection: hexed only when someone is turned away at all,
        // and not kept.
        const reject = this.rejects.size > 0 && this.rejects.has(b4a.toString(remote, 'hex'))
        // Asked at once about the connection the swarm just emitted; an adopted one is not
        // the swarm's, and the flush invariant counts only the swarm's.
        const stream = context.type === 'tcp' ? undefined : this.lastEmitted
        this.net.clock.schedule(this.authDelay(), () => {
          if (stream !== undefined) this.unsettled.delete(stream)
          done(reject ? REJECTED : null)
        })
      },
    })
    // A crashed process's networker lingers (its connections close after it, a candidate may
    // even be promoted on the way): what it reports is no longer this host's.
    const current = (): boolean => this.networker === networker
    networker.on('peer-add', (peer) => {
      if (!current()) return
      const link = (peer.stream.rawStream as SimRawStream).link
      this.keptLinks.add(link.id)
      if (peer.type !== link.transport) {
        this.net.violate(
          new InvariantViolation(
            'peer-type-is-transport',
            `${this.name} lists a peer of type '${peer.type}' on a ${link.transport} link`,
            this.net.clock.now(),
          ),
        )
      }
      this.onPeer(peer, +1)
    })
    networker.on('peer-remove', (peer) => {
      if (current()) this.onPeer(peer, -1)
    })
    networker.on('peer-topic-add', (_peer, topic) => {
      if (current()) checkProvenTopic(this.net, this, topic)
    })
    this.ext = networker.registerExtension<{ seq: number }>('sim-seq', {
      encoding: 'json',
      onmessage: (msg, peer) => {
        if (current()) this.onSeq(msg, peer.stream)
      },
    })
    this.strict = networker.registerExtension('sim-strict', {
      encoding: strictCodec,
      onerror: () => {
        this.malformedReported++
      },
    })
    return networker
  }

  /**
   * A TCP connection from the LAN side, its handshake under way: adopted into the networker.
   * Its promise is a request like a configure's (it must settle), and it must settle on the
   * peer of the stream's own key, whichever connection to that key the dedup kept.
   */
  private adoptTcp(stream: SwarmConnection): void {
    const request: PendingRequest = {
      what: `${this.name} adopt tcp link ${(stream.rawStream as SimRawStream).link.id}`,
      startedAt: this.net.clock.now(),
      settledAt: null,
      outcome: null,
    }
    this.requests.push(request)
    const settle = (outcome: string): void => {
      if (request.settledAt !== null) return
      request.settledAt = this.net.clock.now()
      request.outcome = outcome
    }
    this.networker.adopt(stream, { initiator: stream.isInitiator, type: 'tcp' }).then(
      (peer) => {
        settle('ok')
        const expected = stream.remotePublicKey
        if (expected !== null && b4a.equals(peer.remotePublicKey, expected)) return
        this.net.violate(
          new InvariantViolation(
            'adopt-settles-on-its-peer',
            `${this.name}: adopt resolved to a peer of another key`,
            this.net.clock.now(),
          ),
        )
      },
      (err: { code?: string }) => {
        settle(err.code ?? 'error')
        // Refused (closing, a failed handshake): the LAN side closes what it opened.
        stream.destroy()
      },
    )
  }

  private onPeer(peer: NetworkerPeer, delta: number): void {
    const record = this.keyRecords.of(peer)
    const key = record.key
    const now = this.net.clock.now()
    if (this.rejects.has(key)) {
      this.net.violate(
        new InvariantViolation(
          'rejected-never-peers',
          `${this.name} listed rejected ${key.slice(0, 8)}`,
          now,
        ),
      )
    }
    const before = record.count
    const count = before + delta
    if (before === 1) this.listedKeys--
    if (count === 1) this.listedKeys++
    if (count !== 0 && count !== 1) {
      this.net.violate(
        new InvariantViolation(
          'peer-events-alternate',
          `${this.name}: ${delta > 0 ? 'peer-add' : 'peer-remove'} for ${key.slice(0, 8)} makes ${count}`,
          now,
        ),
      )
    }
    record.count = count
    this.checkPeers()
  }

  /** At most one peer per key, and `peers` equals adds minus removes. */
  checkPeers(): void {
    // Each node checks after every step and every peer event: a key's record says whether
    // this pass met it already (instead of a set of hex keys refilled per check).
    const pass = ++this.checkPass
    let distinct = 0
    let unlisted = 0
    for (const peer of this.networker.peers) {
      const record = this.keyRecords.of(peer)
      if (record.pass === pass) {
        this.net.violate(
          new InvariantViolation(
            'one-peer-per-key',
            `${this.name} lists a key twice`,
            this.net.clock.now(),
          ),
        )
      } else {
        record.pass = pass
        distinct++
      }
      if (record.count !== 1) unlisted++
    }
    if (unlisted > 0 || distinct !== this.listedKeys) {
      this.net.violate(
        new InvariantViolation(
          'peers-match-events',
          `${this.name}: peers ${distinct} vs events ${this.listedKeys}`,
          this.net.clock.now(),
        ),
      )
    }
  }

  private onSeq(msg: { seq: number }, stream: SwarmConnection): void {
    const last = this.received.get(stream) ?? -1
    if (msg.seq !== last + 1) {
      this.net.violate(
        new InvariantViolation(
          'extension-exactly-once-in-order',
          `${this.name} got seq ${msg.seq} after ${last} on one connection`,
          this.net.clock.now(),
        ),
      )
    }
    this.received.set(stream, msg.seq)
    this.messagesDelivered++
  }

  /** Sends the next numbered message to every peer that has the extension. */
  sendNumbered(): void {
    if (!this.alive) return
    for (const peer of this.ext.peers) {
      const seq = this.sent.get(peer.stream) ?? 0
      this.ext.send({ seq }, peer)
      this.sent.set(peer.stream, seq + 1)
    }
  }

  /** Malformed bytes on a json extension: must be reported, never break anything. */
  sendMalformed(target: SimNode): boolean {
    const peer = this.networker.getPeer(target.keyPair.publicKey)
    return peer !== null && this.strict.send(MALFORMED, peer)
  }

  configure(topic: string, wish: TopicWish, flush: boolean): void {
    if (!this.alive) return
    if (wish.announce || wish.lookup) this.wishes.set(topic, wish)
    else this.wishes.delete(topic)
    const request: PendingRequest = {
      what: `${this.name} configure ${topic.slice(0, 6)} ${JSON.stringify(wish)}`,
      startedAt: this.net.clock.now(),
      settledAt: null,
      outcome: null,
    }
    this.requests.push(request)
    const emittedBefore = this.emittedAtFlush.length
    const networker = this.networker
    // A crashed process's networker lingers, and its configure may settle after the crash,
    // even after the host restarted: it died with the process (crash() settled it), and what
    // the host counts from a restart on (connections, flushes) is the new process's.
    const died = (): boolean => this.crashed || this.networker !== networker
    networker.configure(topic, { ...wish, flush }).then(
      () => {
        if (died()) return
        request.settledAt = this.net.clock.now()
        request.outcome = 'ok'
        // A request superseded by a leave settles without a flush: nothing to check then.
        if (flush && networker.joined(topic)) this.checkFlushed(emittedBefore)
      },
      (err: { code?: string }) => {
        if (died()) return
        request.settledAt = this.net.clock.now()
        request.outcome = err.code ?? 'error'
      },
    )
  }

  /** Every connection emitted before the swarm's flush completed has its verdict, or closed. */
  private checkFlushed(flushesBefore: number): void {
    // The swarm's flush is not per topic: this configure's own flush is one of those that
    // completed while it was pending, so it covered at least the earliest of them.
    const marks = this.emittedAtFlush.slice(flushesBefore)
    const emittedByFlush = marks.length > 0 ? Math.min(...marks) : 0
    let waiting = 0
    for (const index of this.unsettled.values()) {
      if (index >= emittedByFlush) break
      waiting++
    }
    if (waiting > 0) {
      this.net.violate(
        new InvariantViolation(
          'flush-after-processing',
          `${this.name}: flushed with ${waiting} connection(s) still being authenticated`,
          this.net.clock.now(),
        ),
      )
    }
  }

  crash(): void {
    if (!this.alive) return
    // A dead process's promises die with it.
    for (const r of this.requests) {
      if (r.settledAt === null) {
        r.settledAt = this.net.clock.now()
        r.outcome = 'crashed'
      }
    }
    this.crashed = true
    this.swarm.crash()
    this.net.count('crash')
  }

  /** Back with the same key pair, a new process: re-applies what it wanted. */
  restart(): void {
    if (!this.crashed) return
    this.crashed = false
    this.net.count('restart')
    this.swarm = this.net.createSwarm(this.keyPair)
    this.store = new SimStore()
    this.sent.clear()
    this.received.clear()
    this.keyRecords.zeroCounts()
    this.listedKeys = 0
    this.emittedCount = 0
    this.unsettled = new Map()
    this.lastEmitted = undefined
    this.emittedAtFlush.length = 0
    this.networker = this.start()
    for (const [topic, wish] of this.wishes) this.configure(topic, wish, true)
  }

  close(timeout?: number): void {
    if (!this.alive) return
    this.closed = true
    const request: PendingRequest = {
      what: `${this.name} close`,
      startedAt: this.net.clock.now(),
      settledAt: null,
      outcome: null,
    }
    this.requests.push(request)
    this.networker.close(timeout === undefined ? {} : { timeout }).then(() => {
      request.settledAt = this.net.clock.now()
      request.outcome = 'ok'
    })
  }
}
