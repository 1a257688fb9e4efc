import type { Clock } from '../core/clock.js'
import type { SwarmConnection } from './swarm.js'

/** Default liveness bound (ms): a kept connection silent this long is dropped. */
export const DEFAULT_LIVENESS_TIMEOUT = 10_000
/** The longest interval between two looks at the connections. */
const MAX_CHECK_INTERVAL = 1000

export interface LivenessOptions {
  clock: Clock
  /** The bound (ms); 0 turns liveness off. */
  timeout: number
  /** Nothing arrived on `conn` for the bound: the caller drops it. */
  dead(conn: SwarmConnection, silentMs: number): void
}

/** A watched connection's four readings, at `slot * FIELDS` in `Readings.data`. */
const HEARD = 0
const HEARD_AT = 1
const WRITTEN = 2
const WRITTEN_AT = 3
const FIELDS = 4
const FIRST_SLOTS = 64

/** Read before any connection is watched: no slot, and shared by every monitor. */
const NO_READINGS = new Float64Array(0)

/**
 * The readings of every watched connection in one array of numbers, a slot each: an object
 * per connection, with its two times as number objects of their own, cost three times as
 * much. Freed slots are reused; the array shrinks back once nothing is watched. It is made
 * at the first watch, not with the monitor: a typed array's buffer is memory outside the
 * heap, slow to make, and a networker that is made and closed (the simulator makes one per
 * node and restart) may never watch a connection.
 */
class Readings {
  data = NO_READINGS
  private free: number[] = []
  private used = 0

  /** A slot for a new connection; its readings are the caller's to write. */
  take(): number {
    const slot = this.free.pop() ?? this.used++
    if ((slot + 1) * FIELDS > this.data.length) {
      const grown = new Float64Array(Math.max(FIRST_SLOTS * FIELDS, this.data.length * 2))
      grown.set(this.data)
      this.data = grown
    }
    return slot
  }

  give(slot: number): void {
    this.free.push(slot)
  }

  reset(): void {
    if (this.data.length > FIRST_SLOTS * FIELDS) this.data = NO_READINGS
    this.free = []
    this.used = 0
  }
}

/**
 * Notices kept connections whose other end is gone — frozen, cut off, or holding no such
 * connection at all — within the bound, on both ends, instead of waiting for the
 * transport's retransmission timeouts (17 s with Hyperswarm's defaults) or forever on an
 * idle connection without keep-alives.
 *
 * Each end makes sure it writes at least every half bound (Hyperswarm's own 5 s
 * keep-alive does when it is on; otherwise an empty keep-alive message is written here),
 * so a healthy connection is never silent for a whole bound: a connection from which
 * nothing arrived for it has missed two keep-alives, and is dropped. "Arrived" is read from
 * counters the layers keep anyway — the secret stream's bytes read and, on UDX, packets
 * received (acknowledgements too, which flow while a busy reader pauses the stream) — by one
 * timer per networker on its clock, running only while there are connections to watch:
 * nothing per packet, and the simulator's virtual time drives it like any other timer.
 */
export class LivenessMonitor {
  /**
   * Each watched connection's slot in `readings`, times two, plus one when the stream's own
   * keep-alive is off or slower than ours must be, so we send them.
   */
  private readonly watched = new Map<SwarmConnection, number>()
  private readonly readings = new Readings()
  private timer: unknown = null
  private readonly interval: number
  private readonly keepAliveEvery: number

  constructor(private readonly opts: LivenessOptions) {
    this.interval = Math.min(MAX_CHECK_INTERVAL, opts.timeout / 10)
    this.keepAliveEvery = opts.timeout / 2
  }

  get enabled(): boolean {
    return this.opts.timeout > 0
  }

  /** Watched connections (diagnostics). */
  get size(): number {
    return this.watched.size
  }

  watch(conn: SwarmConnection): void {
    if (!this.enabled || this.watched.has(conn) || conn.destroyed) return
    const now = this.opts.clock.now()
    const keepAlive = (conn as { keepAlive?: unknown }).keepAlive
    const ownKeepAlive = !(
      typeof keepAlive === 'number' &&
      keepAlive > 0 &&
      keepAlive <= this.keepAliveEvery
    )
    const slot = this.readings.take()
    const r = this.readings.data
    const at = slot * FIELDS
    r[at + HEARD] = heardCount(conn)
    r[at + HEARD_AT] = now
    r[at + WRITTEN] = writtenCount(conn)
    r[at + WRITTEN_AT] = now
    this.watched.set(conn, slot * 2 + (ownKeepAlive ? 1 : 0))
    if (this.timer === null) this.arm()
  }

  unwatch(conn: SwarmConnection): void {
    this.forget(conn)
    if (this.watched.size === 0) this.stop()
  }

  stop(): void {
    if (this.timer !== null) this.opts.clock.clearTimeout(this.timer)
    this.timer = null
  }

  /** Forgets every connection and stops (the networker closes). */
  clear(): void {
    this.watched.clear()
    this.readings.reset()
    this.stop()
  }

  private forget(conn: SwarmConnection): void {
    const entry = this.watched.get(conn)
    if (entry === undefined) return
    this.watched.delete(conn)
    if (this.watched.size === 0) this.readings.reset()
    else this.readings.give(entry >> 1)
  }

  private arm(): void {
    this.timer = this.opts.clock.setTimeout(() => {
      this.timer = null
      this.check()
      if (this.watched.size > 0 && this.timer === null) this.arm()
    }, this.interval)
  }

  private check(): void {
    const now = this.opts.clock.now()
    // What is seen at a look may have arrived up to one interval earlier: the deadlines
    // are one interval short, so a connection is dropped within the bound of its last data
    // and never before the bound less one interval.
    const deadAfter = this.opts.timeout - this.interval
    const keepAliveAfter = this.keepAliveEvery - this.interval
    // The map itself is walked, not a copy of it (a look every interval at every connection
    // would make an array per connection): a connection unwatched meanwhile, by a `dead`
    // call before it in this look, is skipped by the walk; one watched meanwhile is visited,
    // its readings just taken, so nothing is due for it.
    this.watched.forEach((entry, conn) => {
      this.look(conn, entry, now, deadAfter, keepAliveAfter)
    })
  }

  private look(
    conn: SwarmConnection,
    entry: number,
    now: number,
    deadAfter: number,
    keepAliveAfter: number,
  ): void {
    if (conn.destroyed) {
      this.forget(conn)
      return
    }
    // Read afresh each time: a `dead` call may have replaced the array.
    const at = (entry >> 1) * FIELDS
    const heard = heardCount(conn)
    const r = this.readings.data
    if (heard !== r[at + HEARD]) {
      r[at + HEARD] = heard
      r[at + HEARD_AT] = now
    } else if (now - (r[at + HEARD_AT] as number) >= deadAfter) {
      const silent = now - (r[at + HEARD_AT] as number)
      this.forget(conn)
      this.opts.dead(conn, silent)
      return
    }
    if ((entry & 1) === 0) return
    const written = writtenCount(conn)
    if (written !== r[at + WRITTEN]) {
      r[at + WRITTEN] = written
      r[at + WRITTEN_AT] = now
    } else if (now - (r[at + WRITTEN_AT] as number) >= keepAliveAfter) {
      sendKeepAlive(conn)
      r[at + WRITTEN] = writtenCount(conn)
      r[at + WRITTEN_AT] = now
    }
  }
}

/** Everything that says the other end is there: secret-stream bytes, and UDX packets. */
function heardCount(conn: SwarmConnection): number {
  const s = conn as { rawBytesRead?: unknown; rawStream?: { packetsReceived?: unknown } | null }
  const bytes = typeof s.rawBytesRead === 'number' ? s.rawBytesRead : 0
  const packets = s.rawStream?.packetsReceived
  return bytes + (typeof packets === 'number' ? packets : 0)
}

function writtenCount(conn: SwarmConnection): number {
  const written = (conn as { rawBytesWritten?: unknown }).rawBytesWritten
  return typeof written === 'number' ? written : 0
}

/** An empty message: the secret stream's keep-alive (dropped unread at the other end, by the stream or by Protomux). */
function sendKeepAlive(conn: SwarmConnection): void {
  const s = conn as { sendKeepAlive?: () => void }
  if (typeof s.sendKeepAlive === 'function') s.sendKeepAlive()
  else conn.write(Buffer.alloc(0))
}
