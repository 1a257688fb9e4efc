/**
 * What the Noise handshakes over streams the networker wraps — adopted streams and direct
 * TCP sockets — came to, for `stats().totals`. Counted as it happens, never reset. (The
 * swarm's UDX connections reach us with their handshake done: they are not counted here.)
 */
export interface HandshakeCounters {
  /** Handshakes that failed: bytes that are not Noise, or the stream closed during it. */
  handshakesFailed: number
  /** Handshakes not finished within `handshakeTimeout`. */
  handshakeTimeouts: number
  /** Incoming TCP sockets closed at once: too many unfinished handshakes (overall or from their address). */
  handshakesRefused: number
}

export function zeroHandshakeCounters(): HandshakeCounters {
  return { handshakesFailed: 0, handshakeTimeouts: 0, handshakesRefused: 0 }
}
