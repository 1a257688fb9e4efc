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

/**
 * Caps what one connection may hold unread. Secret-stream pauses its raw stream when its
 * own buffer is full, but UDX keeps receiving into the paused stream, and an in-memory raw
 * stream is not paused at all; so while nobody reads (authentication pending, or Protomux
 * holding messages for a channel not open yet) a flooding peer could grow memory without
 * bound. Every push is checked, so the cap holds to within one packet or frame.
 */
export function guardInbound(
  conn: SwarmConnection,
  cap: number,
  onOverflow: () => void,
): InboundGuard {
  const readable = [
    conn as unknown as BufferedReadable,
    conn.rawStream as BufferedReadable | null | undefined,
  ].filter(
    (s): s is BufferedReadable =>
      typeof s === 'object' && s !== null && typeof s.push === 'function',
  )
  const layers = readable.filter(countsUnread)
  let tripped = false
  const unread = (): number =>
    layers.reduce((sum, s) => sum + ((s._readableState?.buffered as number | undefined) ?? 0), 0)
  const restore: (() => void)[] = []
  for (const layer of layers) {
    const own = Object.hasOwn(layer, 'push') ? layer.push : undefined
    const original = layer.push
    layer.push = function guardedPush(this: BufferedReadable, data: unknown): boolean {
      const result = original.call(this, data)
      if (!tripped && unread() > cap) {
        tripped = true
        onOverflow()
      }
      return result
    }
    restore.push(() => {
      if (own === undefined) delete (layer as Partial<BufferedReadable>).push
      else layer.push = own
    })
  }
  return {
    complete: layers.length === readable.length,
    release() {
      for (const r of restore) r()
    },
  }
}
