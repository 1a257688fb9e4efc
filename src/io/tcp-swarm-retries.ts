import type { KeyHex } from '../core/keys.js'
import { type NetworkerPeer, peerKeyHex } from './peer.js'
import type { SwarmConnection, SwarmLike } from './swarm.js'
import { hexOf } from './util.js'

/**
 * Hyperswarm's record of a remote key (its PeerInfo): `reconnect(false)` stops its retries of
 * the key; `ban(true)` stops it dialing the key at all and makes its firewall refuse the key's
 * incoming connections, until `ban(false)`.
 */
interface PeerInfoLike {
  reconnect(value: boolean): void
  ban(value: boolean): void
}

/** Hyperswarm's own way to make a record for a key it has not met (as for a server connection). */
interface SwarmRecords {
  peers?: unknown
  _upsertPeer?: (publicKey: Uint8Array, relayAddresses: null) => unknown
}

export interface SwarmRetryHooks {
  swarm(): SwarmLike | null
  /** The connection came from outside the swarm (adopted, direct TCP). */
  isAdopted(conn: SwarmConnection): boolean
  peerOf(remoteKey: KeyHex): NetworkerPeer | null
}

/**
 * Keeps Hyperswarm from redialing, over UDX, a key we keep over another transport.
 *
 * When a key is kept over direct TCP (or an adopted stream) and carries data both ways, a
 * UDX connection the swarm makes to it is held as a candidate and dropped: the remote does
 * not take it either. Hyperswarm counts that as a lost connection and dials the key again
 * 1, 5 and 15 s later, each dial again a candidate held 10 s then dropped: connections
 * churn for the better part of a minute (then again at every lookup refresh), though the
 * peer list never changes. So when the swarm hands over a connection to a key listed over
 * a connection from elsewhere, the swarm's record of the key is told not to reconnect it (a
 * later lookup that finds the key still dials it once); when the other connection is lost,
 * or replaced by this one, the record may reconnect again.
 */
export class SwarmRetries {
  private readonly quieted = new Set<KeyHex>()

  constructor(private readonly hooks: SwarmRetryHooks) {}

  /**
   * A connection is accepted: a swarm connection to a key listed over another transport
   * will be held as a candidate or settled at once, and is not to be redialed if it loses.
   * Told now, not at its close: Hyperswarm picks its retry as the connection closes, before
   * any listener of ours hears of it — and whichever end drops it first, the dialer's swarm
   * must be told.
   */
  accepted(conn: SwarmConnection, key: KeyHex = hexOf(conn.remotePublicKey)): void {
    if (this.hooks.isAdopted(conn)) return
    const kept = this.hooks.peerOf(key)
    if (kept === null || kept.stream === conn || !this.hooks.isAdopted(kept.stream)) return
    const info = this.peerInfo(key)
    if (info === null) return
    info.reconnect(false)
    this.quieted.add(key)
  }

  /**
   * A peer is listed over a connection from elsewhere (direct TCP, LAN, adopted): while it
   * is, the swarm neither dials its key over UDX nor lets the key's UDX dials in. Without
   * this, a key found by a DHT lookup after it was kept over TCP (the LAN finds peers before
   * the DHT does) is dialed anyway — the swarm only knows its own connections — and each
   * dial is a duplicate held as a candidate, dropped, and dialed again: churn the peer list
   * never shows. A record is made for a key the swarm has not met yet, as Hyperswarm does
   * for a server connection, so a later lookup finds the key banned.
   */
  added(peer: NetworkerPeer): void {
    if (!this.hooks.isAdopted(peer.stream)) return
    const key = peerKeyHex(peer)
    const info = this.peerInfo(key) ?? this.record(peer.remotePublicKey, key)
    if (info === null) return
    info.ban(true)
    this.quieted.add(key)
  }

  /** A peer was unlisted: if it was the connection from elsewhere, the swarm may dial again. */
  removed(peer: NetworkerPeer): void {
    if (this.quieted.size === 0) return
    const key = peerKeyHex(peer)
    if (!this.quieted.delete(key)) return
    const info = this.peerInfo(key)
    info?.ban(false)
    info?.reconnect(true)
  }

  private peerInfo(key: KeyHex): PeerInfoLike | null {
    const peers = (this.hooks.swarm() as SwarmRecords | null)?.peers
    if (!(peers instanceof Map)) return null
    const info = peers.get(key) as Partial<PeerInfoLike> | undefined
    return typeof info?.reconnect === 'function' && typeof info.ban === 'function'
      ? (info as PeerInfoLike)
      : null
  }

  private record(publicKey: Uint8Array, key: KeyHex): PeerInfoLike | null {
    const swarm = this.hooks.swarm() as SwarmRecords | null
    if (typeof swarm?._upsertPeer !== 'function') return null
    swarm._upsertPeer(publicKey, null)
    return this.peerInfo(key)
  }
}
