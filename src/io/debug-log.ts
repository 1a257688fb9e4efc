import createDebug from 'debug'

/*
 * The networker's debug logs, in the ecosystem's convention (the `debug` package, as
 * Hyperswarm's and libp2p's): off unless DEBUG names them, e.g.
 * `DEBUG=chainstore-networker:*`. Every call site checks `enabled` first, so when a
 * namespace is off nothing is formatted and no argument is computed: a property read.
 */

export const log = {
  /** Joins, leaves, flushes and the topic events they lead to. */
  topic: createDebug('chainstore-networker:topic'),
  /** Which connection of a key is kept and which is dropped, and why. */
  dedup: createDebug('chainstore-networker:dedup'),
  /** onauthenticate's verdicts. */
  auth: createDebug('chainstore-networker:auth'),
  /** Peers listed and unlisted, reconnects, connections closed and why. */
  peer: createDebug('chainstore-networker:peer'),
  /** Extension errors: undecodable, oversized and held-then-dropped messages, failing handlers. */
  extension: createDebug('chainstore-networker:extension'),
  /** LAN discovery: its socket, answers rejected, keys dialed and dials failed. */
  lan: createDebug('chainstore-networker:lan'),
}

/** A key as logs show it: the first 12 hex characters, as the CLI does. */
export function short(hex: string): string {
  return hex.slice(0, 12)
}

let networkers = 0

/** A tag telling apart the lines of several networkers in one process: `#1`, `#2`, … */
export function nextNetworkerTag(): string {
  networkers++
  return `#${networkers}`
}
