import NoiseSecretStream from '@hyperswarm/secret-stream'
import b4a from 'b4a'
import type { Clock } from '../core/clock.js'
import { ErrorCode, NetworkerError } from '../core/errors.js'
import { bytesToHex, type KeyHex } from '../core/keys.js'
import type { DropReason } from '../core/protocol.js'
import type { HandshakeCounters } from './adopt-counters.js'
import type { NetworkerPeer } from './peer.js'
import type { KeyPair, SwarmConnection } from './swarm.js'
import { labelTransport, type TransportType } from './transport.js'
import { hexOf, messageOf, noop } from './util.js'

/*
 * Bringing a stream the swarm did not make — a TCP socket, a WebSocket, a pipe, an
 * already-open Noise secret stream — into the same set of connections as the swarm's: Noise
 * over it if it is not a secret stream yet, then exactly what a swarm connection gets
 * (authentication, the core's dedup, replication, extensions, liveness). The promise tells
 * the caller how it ended: the peer listed for the remote key, or why there is none.
 */

/** Default bound on a Noise handshake over a stream we wrap (ms). */
export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000
/**
 * The keep-alive of the secret streams we make (ms), as HyperDHT sets on its own: both ends
 * then drop empty messages unread, so the liveness keep-alives never reach the store.
 */
const KEEP_ALIVE = 5000

export interface AdoptOptions {
  /** Whether this end starts the Noise handshake (ignored for an open secret stream). */
  initiator: boolean
  /** The transport's name in `peer.type` (a TCP socket underneath is `'tcp'` whatever this says). */
  type?: TransportType
  /** The remote key expected: another one is closed with REMOTE_KEY_MISMATCH. */
  publicKey?: Uint8Array
}

/** What `accept` is told of where a connection came from: the topics it was found for. */
export interface AdoptInfo {
  topics?: Uint8Array[]
}

export interface AdopterHooks {
  clock: Clock
  handshakeTimeout: number
  /** Failed and timed-out handshakes are counted here. */
  counts: HandshakeCounters
  /** Our key pair, once the identity is known. */
  keyPair(): Promise<KeyPair>
  /** The networker is open: nothing is adopted once it closes. */
  open(): boolean
  /** Hands the connection to the connection table, as the swarm's 'connection' would. */
  accept(conn: SwarmConnection, info: AdoptInfo | undefined): void
  peerOf(remoteKey: KeyHex): NetworkerPeer | null
}

interface Waiter {
  key: KeyHex
  resolve(peer: NetworkerPeer): void
}

/**
 * Adopts streams into the networker. Streams still in their handshake are held here (and
 * closed when the networker closes); once open, a stream is the connection table's like any
 * other, and this only waits to tell the caller which peer its key ended with.
 */
export class Adopter {
  /** Secret streams in their handshake, with their raw streams (closed on close). */
  private readonly handshaking = new Set<SwarmConnection>()
  /** Accepted connections whose caller waits for a peer of their key. */
  private readonly waiters = new Map<SwarmConnection, Waiter>()
  /** Every connection adopted (the swarm's are not): `isAdopted`. */
  private readonly adopted = new WeakSet<SwarmConnection>()
  /** Why the core dropped a connection, for the caller's error. */
  private readonly drops = new WeakMap<SwarmConnection, DropReason>()

  constructor(private readonly hooks: AdopterHooks) {}

  /** Streams still in their Noise handshake. */
  get pendingHandshakes(): number {
    return this.handshaking.size
  }

  /**
   * Noise over `stream` (unless it is a secret stream already), bounded by the handshake
   * timeout; then accepted as any connection. Resolves to the peer listed for the remote
   * key, whichever connection to it the dedup kept; rejects with a NetworkerError if the
   * stream closes before one is.
   */
  async adopt(stream: unknown, opts: AdoptOptions, info?: AdoptInfo): Promise<NetworkerPeer> {
    return this.admit(await this.open(stream, opts), info)
  }

  /**
   * The first half of `adopt`: the stream as an open secret stream whose remote key is the
   * one expected. Rejects (the stream destroyed) if its handshake fails or times out, if the
   * key is another, or if the networker closes meanwhile.
   */
  async open(stream: unknown, opts: AdoptOptions): Promise<SwarmConnection> {
    if (!isDuplexLike(stream)) {
      throw new NetworkerError(
        ErrorCode.INVALID_OPTION,
        'adopt needs a duplex stream (or a Noise secret stream)',
      )
    }
    // Errors end in 'close', which the handshake wait reads; unheard they would be uncaught.
    stream.on('error', noop)
    const keyPair = this.hooks.open() ? await this.hooks.keyPair() : null
    if (keyPair === null || !this.hooks.open()) {
      stream.destroy()
      throw closedError()
    }
    const conn = this.secure(stream, opts, keyPair)
    labelTransport(conn, opts.type)
    try {
      // A stream closed already would never report it to a secret stream wrapped around it.
      if ((stream as { destroyed?: unknown }).destroyed === true) {
        conn.destroy()
        throw failed('the stream is closed already')
      }
      await this.handshake(conn)
    } catch (err) {
      const code = (err as NetworkerError).code
      if (code === ErrorCode.HANDSHAKE_FAILED) this.hooks.counts.handshakesFailed++
      if (code === ErrorCode.HANDSHAKE_TIMEOUT) this.hooks.counts.handshakeTimeouts++
      throw err
    }
    const remote = conn.remotePublicKey
    if (opts.publicKey !== undefined && !b4a.equals(remote, opts.publicKey)) {
      conn.destroy()
      throw new NetworkerError(
        ErrorCode.REMOTE_KEY_MISMATCH,
        `the remote's key is ${bytesToHex(remote).slice(0, 16)}…, not the one expected`,
      )
    }
    if (b4a.equals(remote, keyPair.publicKey)) {
      conn.destroy()
      throw new NetworkerError(ErrorCode.CONNECTION_CLOSED, 'the stream leads back to ourselves')
    }
    if (!this.hooks.open()) {
      conn.destroy()
      throw closedError()
    }
    return conn
  }

  /** Whether the connection came through here (`adopt`, direct TCP), not from the swarm. */
  isAdopted(conn: SwarmConnection): boolean {
    return this.adopted.has(conn)
  }

  /** A peer was listed: the caller adopting its connection learns it. */
  peerAdded(peer: NetworkerPeer): void {
    const waiter = this.waiters.get(peer.stream)
    if (waiter === undefined) return
    this.waiters.delete(peer.stream)
    waiter.resolve(peer)
  }

  /** The core dropped a connection, for this reason (told before its close). */
  dropped(conn: SwarmConnection, reason: DropReason): void {
    if (this.waiters.has(conn)) this.drops.set(conn, reason)
  }

  /** The networker closes: every stream still in its handshake is closed. */
  close(): void {
    for (const conn of [...this.handshaking]) conn.destroy()
  }

  private secure(stream: DuplexLike, opts: AdoptOptions, keyPair: KeyPair): SwarmConnection {
    if (isSecretStream(stream)) {
      const own = stream.publicKey
      if (own instanceof Uint8Array && !b4a.equals(own, keyPair.publicKey)) {
        stream.destroy()
        throw new NetworkerError(
          ErrorCode.INVALID_OPTION,
          "adopt: the secret stream was made with another key pair than the networker's",
        )
      }
      return stream
    }
    const conn = new NoiseSecretStream(opts.initiator, stream, { keyPair, keepAlive: KEEP_ALIVE })
    return conn as unknown as SwarmConnection
  }

  /** Resolves once the handshake is done; rejects (the stream destroyed) if it fails or times out. */
  private handshake(conn: SwarmConnection): Promise<void> {
    conn.on('error', noop)
    // A closed stream, open or not, would never report its close to the connection table.
    if (conn.destroyed) return Promise.reject(failed('the stream is closed already'))
    if (isOpen(conn)) return Promise.resolve()
    const { clock } = this.hooks
    this.handshaking.add(conn)
    return new Promise<void>((resolve, reject) => {
      let error: unknown = null
      const onerror = (err: unknown): void => {
        error ??= err
      }
      const settle = (err: NetworkerError | null): void => {
        clock.clearTimeout(timer)
        this.handshaking.delete(conn)
        conn.removeListener('error', onerror)
        conn.removeListener('close', onclose)
        conn.removeListener('connect', onopen)
        if (err === null) resolve()
        else reject(err)
      }
      const onopen = (): void => settle(null)
      const onclose = (): void => {
        const why = !this.hooks.open()
          ? closedError()
          : failed(error === null ? 'the stream closed during the handshake' : messageOf(error))
        settle(why)
      }
      const timer = clock.setTimeout(() => {
        settle(
          new NetworkerError(
            ErrorCode.HANDSHAKE_TIMEOUT,
            `the Noise handshake did not finish within ${this.hooks.handshakeTimeout} ms`,
          ),
        )
        conn.destroy()
      }, this.hooks.handshakeTimeout)
      conn.on('error', onerror)
      conn.once('close', onclose)
      conn.once('connect', onopen)
      const opened = (conn as { opened?: unknown }).opened
      if (opened instanceof Promise) {
        opened.then((ok: unknown) => {
          if (ok === true && isOpen(conn)) settle(null)
        }, noop)
      }
    })
  }

  /**
   * The second half of `adopt`: accepts the open connection as the swarm's are accepted and
   * waits for its key's peer (resolved), or its close before there is one (rejected).
   */
  admit(conn: SwarmConnection, info: AdoptInfo | undefined): Promise<NetworkerPeer> {
    const key = hexOf(conn.remotePublicKey)
    this.adopted.add(conn)
    return new Promise<NetworkerPeer>((resolve, reject) => {
      this.waiters.set(conn, { key, resolve })
      conn.once('close', () => {
        if (!this.waiters.has(conn)) return
        this.waiters.delete(conn)
        // Dropped as a duplicate of a connection kept to the same key: that is its peer.
        const peer = this.hooks.peerOf(key)
        if (peer !== null) resolve(peer)
        else reject(closedBefore(this.drops.get(conn), this.hooks.open()))
      })
      this.hooks.accept(conn, info)
    })
  }
}

/** A stream as adopt takes it: Node's or streamx's duplex (both have these). */
interface DuplexLike {
  on(event: string, fn: (...args: unknown[]) => void): unknown
  write(data: unknown): unknown
  destroy(err?: Error): unknown
}

function isDuplexLike(value: unknown): value is DuplexLike {
  if (typeof value !== 'object' || value === null) return false
  const v = value as Record<string, unknown>
  return ['on', 'write', 'destroy'].every((m) => typeof v[m] === 'function')
}

/**
 * A Noise secret stream already (ours, or one with its shape: the simulator's stand-in):
 * it has the fields secret-stream has from construction on.
 */
export function isSecretStream(value: unknown): value is SwarmConnection {
  if (value instanceof NoiseSecretStream) return true
  if (typeof value !== 'object' || value === null) return false
  return (
    'remotePublicKey' in value &&
    'handshakeHash' in value &&
    'rawStream' in value &&
    typeof (value as { isInitiator?: unknown }).isInitiator === 'boolean'
  )
}

/** Its handshake is done: it knows the remote's key and the handshake hash. */
function isOpen(conn: SwarmConnection): boolean {
  const c = conn as { handshakeHash?: unknown; remotePublicKey?: unknown }
  return c.handshakeHash instanceof Uint8Array && c.remotePublicKey instanceof Uint8Array
}

function failed(why: string): NetworkerError {
  return new NetworkerError(ErrorCode.HANDSHAKE_FAILED, `the Noise handshake failed: ${why}`)
}

function closedError(): NetworkerError {
  return new NetworkerError(ErrorCode.NETWORKER_CLOSED, 'the networker is closed')
}

/** Why an accepted connection closed before its key had a peer. */
function closedBefore(reason: DropReason | undefined, open: boolean): NetworkerError {
  if (reason === 'closing' || (reason === undefined && !open)) return closedError()
  if (reason === 'rejected') {
    return new NetworkerError(
      ErrorCode.AUTHENTICATION_FAILED,
      'onauthenticate rejected the connection (or did not answer in time)',
    )
  }
  const why =
    reason === 'limit'
      ? 'the networker has maxPeers peers already'
      : reason === 'duplicate'
        ? 'it was dropped as a duplicate and no other connection to the key is kept'
        : 'it closed before it became a peer'
  return new NetworkerError(ErrorCode.CONNECTION_CLOSED, `the connection closed: ${why}`)
}
