import b4a from 'b4a'
import type { KeyHex } from '../core/keys.js'
import type { SwarmConnection } from './swarm.js'
import type { TransportType } from './transport.js'
import { bytesOf, hexOf } from './util.js'

/** A connected remote peer: one per remote Noise key. */
export interface NetworkerPeer {
  remotePublicKey: Buffer
  /** `host:port` of the remote end of the transport, or null when it has none. */
  remoteAddress: string | null
  /** The transport the connection runs on. */
  type: TransportType
  /** The Noise secret stream; the store replicates over it. */
  stream: SwarmConnection
  /**
   * The discovery keys this peer shares with us now: the topics both have joined, as its
   * proofs say (a networker peer), or as our lookups found it (any other peer). A fresh
   * array on every read; 'peer-topic-add' and 'peer-topic-remove' say when it changes.
   */
  readonly topics: Buffer[]
}

/** The swarm's record of a peer: its `topics` grow as our lookups find it again. */
export interface SwarmPeerInfo {
  topics?: unknown
}

/** Where a listed peer's `topics` are read from: the networker's topic bookkeeping. */
export type TopicsOf = (peer: NetworkerPeer) => Buffer[]

/**
 * What the networker knows of a peer beyond its public fields, kept on the peer itself in
 * private fields rather than in a map per part keyed by the peer: one object per peer. Read
 * and written through the functions below, the only ones with access.
 */
let access: {
  connectionId(peer: ListedPeer): number
  key(peer: ListedPeer): KeyHex
  info(peer: ListedPeer): SwarmPeerInfo | undefined
  listedAt(peer: ListedPeer): number | null
  setListedAt(peer: ListedPeer, at: number | null): void
  setTopicsOf(peer: ListedPeer, topicsOf: TopicsOf): void
}

/**
 * The peer object of a listed connection. Its `topics` getter is on the prototype, so a
 * peer is one plain object with a fixed shape; what the networker keeps about it is in
 * private fields, out of the user's sight (`Object.keys`, spread, `util.inspect`).
 */
export class ListedPeer implements NetworkerPeer {
  /** The connection table's id of its connection. */
  #connectionId: number
  /** The remote key in hex, as the connection table made it: one string per peer, not one per use. */
  #key: KeyHex
  #info: SwarmPeerInfo | undefined
  /** When the networker listed it, on its clock; null once unlisted. */
  #listedAt: number | null = null
  #topicsOf: TopicsOf | null = null

  constructor(
    public remotePublicKey: Buffer,
    public remoteAddress: string | null,
    public type: TransportType,
    public stream: SwarmConnection,
    info: SwarmPeerInfo | undefined,
    connectionId: number,
    key: KeyHex,
  ) {
    this.#info = info
    this.#connectionId = connectionId
    this.#key = key
  }

  /** Until the networker's topic bookkeeping takes the peer over (before 'peer-add'): none. */
  get topics(): Buffer[] {
    return this.#topicsOf === null ? [] : this.#topicsOf(this)
  }

  static {
    access = {
      connectionId: (peer) => peer.#connectionId,
      key: (peer) => peer.#key,
      info: (peer) => peer.#info,
      listedAt: (peer) => peer.#listedAt,
      setListedAt: (peer, at) => {
        peer.#listedAt = at
      },
      setTopicsOf: (peer, topicsOf) => {
        peer.#topicsOf = topicsOf
      },
    }
  }
}

/** The connection table's id of the peer's connection (null for a peer of no networker). */
export function connectionIdOf(peer: NetworkerPeer): number | null {
  return peer instanceof ListedPeer ? access.connectionId(peer) : null
}

/** The peer's remote key in hex: kept on a listed peer, made afresh for any other. */
export function peerKeyHex(peer: NetworkerPeer): KeyHex {
  return peer instanceof ListedPeer ? access.key(peer) : hexOf(peer.remotePublicKey)
}

/** The swarm's record of the peer, as the swarm handed its connection over. */
export function swarmInfoOf(peer: NetworkerPeer): SwarmPeerInfo | undefined {
  return peer instanceof ListedPeer ? access.info(peer) : undefined
}

/** The topics a swarm's peer record lists (Hyperswarm's PeerInfo.topics), as bytes. */
export function topicsOf(info: { topics?: unknown } | undefined): Uint8Array[] {
  return Array.isArray(info?.topics)
    ? info.topics.filter((t): t is Uint8Array => t instanceof Uint8Array)
    : []
}

/**
 * Whether a swarm's peer record lists `topic`: compared as bytes, the topic decoded once and
 * only for a record that lists any, so a record of thousands of topics costs a compare each,
 * not a hex string each. `key` is the topic's bytes when the caller made them already.
 */
export function recordLists(
  info: { topics?: unknown } | undefined,
  topic: KeyHex,
  key?: Uint8Array,
): boolean {
  const topics = info?.topics
  if (!Array.isArray(topics) || topics.length === 0) return false
  const bytes = key ?? bytesOf(topic)
  for (const t of topics) if (t instanceof Uint8Array && b4a.equals(t, bytes)) return true
  return false
}

/** When the peer was listed, on the networker's clock; null when it is not listed. */
export function listedAtOf(peer: NetworkerPeer): number | null {
  return peer instanceof ListedPeer ? access.listedAt(peer) : null
}

export function setListedAt(peer: NetworkerPeer, at: number | null): void {
  if (peer instanceof ListedPeer) access.setListedAt(peer, at)
}

/** The networker's topic bookkeeping takes the peer over: `topics` reads from it from now on. */
export function setTopicsOf(peer: NetworkerPeer, topicsOf: TopicsOf): void {
  if (peer instanceof ListedPeer) access.setTopicsOf(peer, topicsOf)
}
