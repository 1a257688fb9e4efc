import Protomux from 'protomux'
import type { SwarmConnection } from './swarm.js'

/**
 * A connection's Protomux, made only once something is said on the connection.
 *
 * The extensions' and topics' links pair a protocol on every connection, so that a remote
 * opening its channel is answered. A Protomux costs about 1.3 KB per connection, and most
 * connections of a networker whose store replicates over Protomux (Corestore) have one
 * already; but a connection nobody says anything on needs none. So a pairing waits here until
 * the connection has a Protomux (the store made it: paired at once), the remote sends its
 * first bytes (`heard`: made then, and the buffered bytes go to it), or we open a channel
 * ourselves (`muxOf`). Nothing the remote sends is read before the Protomux exists: the
 * connection is not read at all until then, so its bytes wait in the stream's buffer (capped
 * by the inbound guard).
 */

/** What a pairing calls when the remote opens a channel that no channel of ours answers. */
export interface PairTarget {
  remoteOpened(): void
}

/**
 * One pairing waiting for its connection's Protomux; a connection's pairings are a list (two
 * at most here: extensions and topics). A node of three fields rather than arrays, which
 * grow to seventeen slots on their first push: this is kept on every idle connection.
 */
class Waiting {
  constructor(
    readonly protocol: string,
    readonly target: PairTarget,
    public next: Waiting | null,
  ) {}
}

const waiting = new WeakMap<SwarmConnection, Waiting>()
/** Connections the remote has spoken on before anything paired: the first pairing makes the Protomux. */
const spoken = new WeakSet<SwarmConnection>()

/** The connection's Protomux if made, by us or by the store (`Protomux.from` finds it). */
export function muxIfMade(stream: SwarmConnection): Protomux | null {
  const data = (stream as { userData?: unknown }).userData
  // Protomux.isProtomux(null) throws: a stream with no user data has none.
  return typeof data === 'object' && data !== null && Protomux.isProtomux(data)
    ? (data as Protomux)
    : null
}

/**
 * The connection's Protomux, made now if need be, with every waiting pairing in place (also
 * when someone else made it meanwhile: the user, for a protocol of their own).
 */
export function muxOf(stream: SwarmConnection): Protomux {
  const mux = muxIfMade(stream) ?? Protomux.from(stream)
  let node = waiting.get(stream) ?? null
  if (node !== null) waiting.delete(stream)
  for (; node !== null; node = node.next) pair(mux, node.protocol, node.target)
  return mux
}

/**
 * Calls `target.remoteOpened()` when the remote opens a channel of `protocol` that no channel
 * of ours answers (Protomux's `pair`), from the moment the connection has a Protomux.
 */
export function pairWhenMuxed(stream: SwarmConnection, protocol: string, target: PairTarget): void {
  if (muxIfMade(stream) !== null || spoken.has(stream)) {
    pair(muxOf(stream), protocol, target)
    return
  }
  waiting.set(stream, new Waiting(protocol, target, waiting.get(stream) ?? null))
}

/** Takes a pairing back (the peer is gone), whether or not the Protomux was made. */
export function unpair(stream: SwarmConnection, protocol: string): void {
  const mux = muxIfMade(stream)
  if (mux !== null) mux.unpair({ protocol })
  let node = waiting.get(stream) ?? null
  let before: Waiting | null = null
  for (; node !== null; before = node, node = node.next) {
    if (node.protocol !== protocol) continue
    if (before !== null) before.next = node.next
    else if (node.next !== null) waiting.set(stream, node.next)
    else waiting.delete(stream)
    return
  }
}

/**
 * The remote sent its first bytes (the connection table saw them, queued and not yet read).
 * With pairings waiting, the Protomux is made now (or, made by someone else, given them) and
 * reads them; otherwise the next pairing makes it.
 */
export function heard(stream: SwarmConnection): void {
  if (waiting.has(stream)) muxOf(stream)
  else if (muxIfMade(stream) === null) spoken.add(stream)
}

function pair(mux: Protomux, protocol: string, target: PairTarget): void {
  mux.pair({ protocol }, () => target.remoteOpened())
}
