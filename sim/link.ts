import { Duplex } from 'streamx'
import { noop } from '../src/io/util.js'
import type { KeyRecord } from './key-records.js'
import type { StandInSecretStream } from './stand-in-stream.js'
import { STREAM_DESTROYED } from './stream-destroyed.js'
import type { VirtualClock } from './virtual-clock.js'

/**
 * The transports the simulated network carries: `udx`, what Hyperswarm's connections run on
 * (found through the DHT), and `tcp`, direct connections between hosts on one LAN segment.
 */
export type SimTransport = 'udx' | 'tcp'

const EMPTY = Buffer.alloc(0)

/** One end of a simulated wire: what a Noise secret stream runs over in the simulator. */
export class SimRawStream extends Duplex {
  /** Read by the networker to name the transport (`peer.type`). */
  readonly transport: SimTransport
  readonly remoteAddress: string
  peer: SimRawStream | null = null
  /** The stand-in secret stream over this end, if one runs over it (not with real Noise). */
  secret: StandInSecretStream | null = null
  /**
   * The remote key object a node's checkPeers last met on this end, and that key's record in
   * the node (KeyRecords.of): the node holding this end reads them back on every check.
   */
  checkedKey: Uint8Array | null = null
  checkedRecord: KeyRecord | null = null

  constructor(
    readonly link: Link,
    readonly node: number,
    remoteAddress: string,
  ) {
    super()
    this.transport = link.transport
    this.remoteAddress = remoteAddress
  }

  /** Without a cause, the shared one (see STREAM_DESTROYED). */
  override destroy(err?: Error | null): void {
    super.destroy(err || STREAM_DESTROYED)
  }

  override _write(data: Buffer, cb: (err: Error | null) => void): void {
    this.link.carry(this, data)
    cb(null)
  }

  override _final(cb: (err: Error | null) => void): void {
    this.link.carryEnd(this)
    cb(null)
  }

  override _destroy(cb: (err: Error | null) => void): void {
    this.link.cut('closed', this.node)
    cb(null)
  }
}

/**
 * A bidirectional wire between two nodes with a latency. Bytes arrive in order after the
 * latency; `cut()` breaks it (both ends close after the latency), as a dropped connection or
 * a partition does.
 */
export class Link {
  readonly a: SimRawStream
  readonly b: SimRawStream
  private lastDelivery = 0
  broken = false
  cutReason: string | null = null
  /** The node whose end closed it, when an end (not a fault) did. */
  cutBy: number | null = null
  /** Ends not closed yet: the network forgets the link when none is left. */
  openEnds = 2
  /** The handshake hash the first stand-in end made, until the other end takes it (stand-in-stream.ts). */
  handshakeMemo: { initiator: Uint8Array; responder: Uint8Array; hash: Buffer } | null = null

  constructor(
    readonly id: number,
    private readonly clock: VirtualClock,
    readonly latency: number,
    addressA: string,
    addressB: string,
    readonly nodeA: number,
    readonly nodeB: number,
    readonly transport: SimTransport = 'udx',
    /**
     * Set (ms) on a link that closes like TCP (NetworkOptions.tcpFin): an end that closes it
     * sends the end of its stream, which reaches the other end after what it wrote before, and
     * that end closes only this long after. Null: both ends close after the latency.
     */
    readonly finToClose: number | null = null,
  ) {
    this.a = new SimRawStream(this, nodeA, addressB)
    this.b = new SimRawStream(this, nodeB, addressA)
    this.a.peer = this.b
    this.b.peer = this.a
    // A wire's errors end in 'close', which is what is watched.
    this.a.on('error', noop)
    this.b.on('error', noop)
  }

  carry(from: SimRawStream, data: Buffer): void {
    if (this.broken) return
    // A copy, as a wire carries bytes and not the writer's buffer; an empty message (a
    // keep-alive, many of a run's messages) has no bytes to copy: one empty buffer for all.
    this.deliver(from.peer, data.byteLength === 0 ? EMPTY : Buffer.from(data))
  }

  carryEnd(from: SimRawStream): void {
    this.deliver(from.peer, null)
  }

  /** Told when an end closes the link (not a fault): who, at the moment it happens. */
  onEndClosed: ((link: Link, by: number) => void) | null = null

  /** Breaks the wire now; each end learns of it after the latency. */
  cut(reason: string, by: number | null = null): void {
    if (this.broken) return
    this.broken = true
    this.cutReason = reason
    this.cutBy = by
    if (by !== null) this.onEndClosed?.(this, by)
    if (by !== null && this.finToClose !== null) {
      // A host that closes a TCP socket sends a FIN: the other end reads what was sent, then
      // the stream's end, and its own close follows a moment later. A window a real network
      // has and a plain cut does not: the other end has heard the end, and not yet the close.
      const other = by === this.nodeA ? this.b : this.a
      this.finTo = other
      this.deliver(other, null)
      this.clock.schedule(this.lastDelivery - this.clock.now() + this.finToClose, this.closeEnds)
      return
    }
    this.clock.schedule(this.latency, this.closeEnds)
  }

  /** Both ends close (those still open): the end of a cut. */
  private readonly closeEnds = (): void => {
    if (!this.a.destroyed) this.a.destroy()
    if (!this.b.destroyed) this.b.destroy()
  }

  /**
   * Breaks the wire without a word: nothing more arrives at either end, and neither end is
   * told — a path that fails somewhere between two hosts. Only the ends' liveness notices.
   */
  silence(): void {
    if (this.broken) return
    this.broken = true
    this.cutReason = 'silent'
  }

  /** The end a node holds. */
  endOf(node: number): SimRawStream {
    return node === this.nodeA ? this.a : this.b
  }

  /**
   * Deliveries under way, oldest first: pairs of the end they go to and what it is given
   * (bytes, or null for the end of the stream), from `inFlightHead` to `inFlightTail`. A
   * link's deliveries are due in the order they were made, so each of its tasks delivers the
   * oldest: one function for all of them, not a closure per message. The array keeps its
   * length when it empties (its slots cleared): truncated, it gave up its backing store and
   * grew one again with the link's next burst of messages.
   */
  private readonly inFlight: (SimRawStream | Buffer | null)[] = []
  /** The end a FIN goes to (finToClose): it is still given what is under way to it. */
  private finTo: SimRawStream | null = null
  private inFlightHead = 0
  private inFlightTail = 0

  private deliver(to: SimRawStream | null, data: Buffer | null): void {
    // In order: never before an earlier delivery on this link.
    const at = Math.max(this.clock.now() + this.latency, this.lastDelivery)
    this.lastDelivery = at
    const queue = this.inFlight
    const tail = this.inFlightTail
    if (tail === queue.length) queue.push(to, data)
    else {
      queue[tail] = to
      queue[tail + 1] = data
    }
    this.inFlightTail = tail + 2
    this.clock.schedule(at - this.clock.now(), this.deliverOldest)
  }

  private readonly deliverOldest = (): void => {
    const queue = this.inFlight
    const head = this.inFlightHead
    const to = queue[head] as SimRawStream | null
    const data = queue[head + 1] as Buffer | null
    queue[head] = null
    queue[head + 1] = null
    if (head + 2 === this.inFlightTail) {
      this.inFlightHead = 0
      this.inFlightTail = 0
    } else if (head >= 64) {
      // A link always busy never empties its queue: the delivered half is dropped now and then.
      queue.splice(0, head + 2)
      this.inFlightTail -= head + 2
      this.inFlightHead = 0
    } else {
      this.inFlightHead = head + 2
    }
    if ((!this.broken || to === this.finTo) && to !== null && !to.destroyed) to.push(data)
  }
}
