import type { SwarmConnection } from './swarm.js'

/** Most bytes one connection may hold unread, unless `maxInboundBuffer` says otherwise. */
export const DEFAULT_MAX_INBOUND_BUFFER = 32 * 1024 * 1024

interface BufferedReadable {
  push(data: unknown): boolean
  _readableState?: { buffered?: number }
}

/**
 * Caps what one connection may hold unread. Secret-stream pauses its raw stream when its
 * own buffer is full, but UDX keeps receiving into the paused stream, and an in-memory raw
 * stream is not paused at all; so while nobody reads (authentication pending, or Protomux
 * holding messages for a channel not open yet) a flooding peer could grow memory without
 * bound. Every push is checked, so the cap holds to within one packet or frame.
 * Returns a function that removes the guard.
 */
export function guardInbound(
  conn: SwarmConnection,
  cap: number,
  onOverflow: () => void,
): () => void {
  const layers = [
    conn as unknown as BufferedReadable,
    conn.rawStream as BufferedReadable | null | undefined,
  ]
    .filter(
      (s): s is BufferedReadable =>
        typeof s === 'object' && s !== null && typeof s.push === 'function',
    )
    .filter((s) => typeof s._readableState?.buffered === 'number')
  let tripped = false
  const unread = (): number => layers.reduce((sum, s) => sum + (s._readableState?.buffered ?? 0), 0)
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
  return () => {
    for (const r of restore) r()
  }
}
