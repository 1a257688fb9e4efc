import b4a from 'b4a'
import type { NetworkerPeer } from '../src/io/peer.js'
import { SimRawStream } from './link.js'

/** What a node knows of one remote key (see KeyRecords). */
export interface KeyRecord {
  readonly key: string
  /** Peer-add minus peer-remove events for the key, in the node's current process. */
  count: number
  /** The last checkPeers pass that met a peer of the key. */
  pass: number
}

/**
 * A key in hex. Made once per node for its own key, and once per raw stream for a peer's key
 * (KeyRecords.of caches the result on the stream): no cache of its own is needed.
 */
export function hex(b: Uint8Array): string {
  return b4a.toString(b as Buffer, 'hex')
}

/**
 * One node's record per remote key (hex) it has seen: its adds minus removes, and the last
 * checkPeers pass that met it. A restart zeroes the counts and keeps the records, so a
 * record cached on a raw stream (see `of`) stays the key's record.
 */
export class KeyRecords {
  private readonly byKey = new Map<string, KeyRecord>()

  /**
   * The record of a peer's remote key. Each check meets every peer again: the record is
   * cached on the peer's raw stream (one end, so one node's), for the key object it was
   * found for, so a check neither hexes nor hashes a key it met before. Any other key object,
   * or a stream that is not the simulator's, is looked up by its hex as before.
   */
  of(peer: NetworkerPeer): KeyRecord {
    const remote = peer.remotePublicKey
    const raw = (peer.stream as { rawStream?: unknown } | undefined)?.rawStream
    const cached = raw instanceof SimRawStream ? raw : null
    if (cached !== null && cached.checkedKey === remote) return cached.checkedRecord as KeyRecord
    const key = hex(remote)
    let record = this.byKey.get(key)
    if (record === undefined) {
      record = { key, count: 0, pass: 0 }
      this.byKey.set(key, record)
    }
    if (cached !== null) {
      cached.checkedKey = remote
      cached.checkedRecord = record
    }
    return record
  }

  /** A new process: no key is listed in it yet. */
  zeroCounts(): void {
    for (const record of this.byKey.values()) record.count = 0
  }
}
