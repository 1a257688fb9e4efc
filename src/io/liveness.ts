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

/** One watched connection (the map's key). */
interface Watched {
  heard: number
  heardAt: number
  written: number
  writtenAt: number
  /** The stream's own keep-alive is off or slower than ours must be: we send them. */
  ownKeepAlive: boolean
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
  private readonly watched = new Map<SwarmConnection, Watched>()
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
    this.watched.set(conn, {
      heard: heardCount(conn),
      heardAt: now,
      written: writtenCount(conn),
      writtenAt: now,
      ownKeepAlive: !(
        typeof keepAlive === 'number' &&
        keepAlive > 0 &&
        keepAlive <= this.keepAliveEvery
      ),
    })
    if (this.timer === null) this.arm()
  }

  unwatch(conn: SwarmConnection): void {
    this.watched.delete(conn)
    if (this.watched.size === 0) this.stop()
  }

  stop(): void {
    if (this.timer !== null) this.opts.clock.clearTimeout(this.timer)
    this.timer = null
  }

  /** Forgets every connection and stops (the networker closes). */
  clear(): void {
    this.watched.clear()
    this.stop()
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
    for (const [conn, w] of [...this.watched]) {
      if (conn.destroyed) {
        this.watched.delete(conn)
        continue
      }
      const heard = heardCount(conn)
      if (heard !== w.heard) {
        w.heard = heard
        w.heardAt = now
      } else if (now - w.heardAt >= deadAfter) {
        this.watched.delete(conn)
        this.opts.dead(conn, now - w.heardAt)
        continue
      }
      if (!w.ownKeepAlive) continue
      const written = writtenCount(conn)
      if (written !== w.written) {
        w.written = written
        w.writtenAt = now
      } else if (now - w.writtenAt >= keepAliveAfter) {
        sendKeepAlive(conn)
        w.written = writtenCount(conn)
        w.writtenAt = now
      }
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
