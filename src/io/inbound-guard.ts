import { Readable } from 'streamx'
import type { SwarmConnection } from './swarm.js'

/** Most bytes one connection may hold unread, unless `maxInboundBuffer` says otherwise. */
export const DEFAULT_MAX_INBOUND_BUFFER = 32 * 1024 * 1024

/**
 * The guard reads streamx's count of unread bytes, `_readableState.buffered`. It is not
 * public API: were a streamx release to drop or rename it, the cap would silently stop
 * capping. So its presence is checked, on a fresh streamx stream when the networker is made
 * and on each connection's layers when it arrives, and a missing one is reported
 * (`diagnostics().floodGuard`).
 */
interface BufferedReadable {
  push(data: unknown): boolean
  _readableState?: { buffered?: unknown }
}

export interface InboundGuard {
  /** Removes the guard (the connection closed). */
  release(): void
  /** Every layer of the connection is capped: none lacked the unread-byte count. */
  readonly complete: boolean
  /** It reports the remote's first bytes: a layer of the connection is guarded. */
  readonly hears: boolean
}

let streamxCounts: boolean | null = null

/** Whether the streamx in use keeps the count the guard reads (checked once per process). */
export function streamxCountsUnread(): boolean {
  if (streamxCounts === null) streamxCounts = countsUnread(new Readable() as BufferedReadable)
  return streamxCounts
}

function countsUnread(stream: BufferedReadable): boolean {
  return typeof stream._readableState?.buffered === 'number'
}

type Push = (this: BufferedReadable, data: unknown) => boolean

/** Where a guarded layer keeps its guard: read by the one `guardedPush` every layer shares. */
const GUARD = Symbol('chainstore-networker inbound guard')

interface GuardedLayer extends BufferedReadable {
  [GUARD]?: Guard
}

/**
 * Caps what one connection may hold unread. Secret-stream pauses its raw stream when its
 * own buffer is full, but UDX keeps receiving into the paused stream, and an in-memory raw
 * stream is not paused at all; so while nobody reads (authentication pending, or Protomux
 * holding messages for a channel not open yet) a flooding peer could grow memory without
 * bound. Every push is checked, so the cap holds to within one packet or frame.
 *
 * Kept per connection: one small record and, on each of its (at most two) layers, the shared
 * `guardedPush` in place of its own and the record beside it, instead of a closure per layer.
 */
export function guardInbound(
  conn: SwarmConnection,
  cap: number,
  onOverflow: (conn: SwarmConnection) => void,
  onFirstPush: ((conn: SwarmConnection) => void) | null = null,
): InboundGuard {
  const candidates = [conn as unknown as BufferedReadable, conn.rawStream as unknown]
  let readable = 0
  let first: GuardedLayer | null = null
  let second: GuardedLayer | null = null
  for (const s of candidates) {
    if (typeof s !== 'object' || s === null) continue
    const layer = s as GuardedLayer
    if (typeof layer.push !== 'function') continue
    readable++
    if (!countsUnread(layer)) continue
    if (first === null) first = layer
    else second = layer
  }
  const guard = new Guard(conn, cap, onOverflow, onFirstPush, first, second, readable)
  guard.install(first)
  guard.install(second)
  return guard
}

/** One connection's guard: its capped layers, the push each had, and whether it tripped. */
class Guard implements InboundGuard {
  private tripped = false
  /** The first push on the outer guarded layer was reported (see `hears`). */
  private heard = false
  /**
   * Each layer's own push before ours, or undefined when it used its prototype's (as
   * streams do): its pushes go on to that one.
   */
  private firstOwn: Push | undefined
  private secondOwn: Push | undefined

  constructor(
    private readonly conn: SwarmConnection,
    private readonly cap: number,
    private readonly onOverflow: (conn: SwarmConnection) => void,
    private readonly onFirstPush: ((conn: SwarmConnection) => void) | null,
    private readonly first: GuardedLayer | null,
    private readonly second: GuardedLayer | null,
    /** Layers that take pushes: all of them capped means the guard is complete. */
    private readonly readable: number,
  ) {}

  /**
   * The guard reports the remote's first bytes (`onFirstPush`, once, after they are queued
   * and before anyone can have read them; the stream's end is not bytes): every push passes
   * here, whether the stream flows or not, which 'readable' cannot promise once some reader
   * makes it flow.
   */
  get hears(): boolean {
    return this.first !== null && this.onFirstPush !== null
  }

  get complete(): boolean {
    return (this.first === null ? 0 : 1) + (this.second === null ? 0 : 1) === this.readable
  }

  install(layer: GuardedLayer | null): void {
    // A stream is guarded once, by the table that accepted it: a second guard would call
    // the shared push from itself.
    if (layer === null || layer[GUARD] !== undefined) return
    const own = Object.hasOwn(layer, 'push') ? layer.push : undefined
    if (layer === this.first) this.firstOwn = own
    else this.secondOwn = own
    layer[GUARD] = this
    layer.push = guardedPush
  }

  /** A push on `layer` went through: past the cap, the connection is reported once. */
  pushed(layer: GuardedLayer, data: unknown): boolean {
    const own = layer === this.first ? this.firstOwn : this.secondOwn
    const push: Push = own ?? Object.getPrototypeOf(layer).push
    const result = push.call(layer, data)
    if (!this.tripped && this.unread() > this.cap) {
      this.tripped = true
      this.onOverflow(this.conn)
    }
    // The end of the stream (a push of null) is not data: a remote that closes a connection
    // without a byte on it never kept it, and a held duplicate must not be promoted for it.
    if (!this.heard && data !== null && layer === this.first && this.onFirstPush !== null) {
      this.heard = true
      this.onFirstPush(this.conn)
    }
    return result
  }

  release(): void {
    this.restore(this.first, this.firstOwn)
    this.restore(this.second, this.secondOwn)
  }

  private unread(): number {
    return bufferedOf(this.first) + bufferedOf(this.second)
  }

  private restore(layer: GuardedLayer | null, own: Push | undefined): void {
    if (layer === null || layer[GUARD] !== this) return
    // In the reverse of the order install added them: V8 takes back the last property added
    // to an object cheaply, but deleting any other turns the object (a stream, with dozens
    // of properties) into a slow dictionary, a copy of all of them on every close.
    if (own === undefined) delete (layer as Partial<BufferedReadable>).push
    else layer.push = own
    delete layer[GUARD]
  }
}

/** The push of every guarded layer: on to the layer's own push, then the check. */
function guardedPush(this: GuardedLayer, data: unknown): boolean {
  const guard = this[GUARD]
  // Released while a caller still held this function: the prototype's push, unchecked.
  if (guard === undefined) return Object.getPrototypeOf(this).push.call(this, data)
  return guard.pushed(this, data)
}

function bufferedOf(layer: BufferedReadable | null): number {
  return (layer?._readableState?.buffered as number | undefined) ?? 0
}
