import type { Clock } from './core/clock.js'
import { ErrorCode, NetworkerError } from './core/errors.js'
import { describe } from './core/keys.js'
import { DEFAULT_HANDSHAKE_TIMEOUT } from './io/adopt.js'
import type { AuthenticateHook } from './io/authenticate.js'
import { DEFAULT_AUTHENTICATE_TIMEOUT } from './io/authenticate.js'
import type { ReplicatingStore } from './io/connections.js'
import { type DriverClock, realClock } from './io/core-driver.js'
import { resolveEncoding } from './io/encodings.js'
import { DEFAULT_MAX_MESSAGE_SIZE, type Extension, type ExtensionHandlers } from './io/extension.js'
import { DEFAULT_EXTENSION_HOLD_TIMEOUT, DEFAULT_MAX_HELD_BYTES } from './io/extension-registry.js'
import { DEFAULT_MAX_INBOUND_BUFFER } from './io/inbound-guard.js'
import { type LanOptions, type LanSettings, lanSettingsOf } from './io/lan-options.js'
import { DEFAULT_LIVENESS_TIMEOUT } from './io/liveness.js'
import { type AwarenessSettings, DEFAULT_CLOSE_ON_LEAVE_GRACE } from './io/peer-awareness.js'
import type { PersistOption } from './io/remembered-config.js'
import { DEFAULT_FLUSH_REPLICATION_TIMEOUT } from './io/replication-barrier.js'
import { isSwarmLike, type KeyPair, type SwarmLike } from './io/swarm.js'
import {
  DEFAULT_MAX_PENDING_HANDSHAKES,
  DEFAULT_MAX_PENDING_HANDSHAKES_PER_HOST,
} from './io/tcp-listener.js'
import { directPeersOf, type TcpTarget, type TcpTargetInput } from './io/tcp-options.js'
import type { MetricsOption } from './metrics/attach.js'

/*
 * Everything a caller passes the networker — its options, configure's, close's,
 * registerExtension's — and the checks on it. Each check runs at the call, so a mistake
 * throws INVALID_OPTION naming the option there rather than failing later, far away.
 */

export interface NetworkerOptions extends HyperswarmOptions {
  /** Noise key pair used on every connection (ignored when `swarm` is given: the swarm's is used). */
  keyPair?: KeyPair
  /** Gate every connection, incoming and outgoing, before it is replicated to or listed. */
  onauthenticate?: AuthenticateHook
  /** How long `onauthenticate` may take before the peer is rejected (ms). Default 10 s. */
  authenticateTimeout?: number
  /** Use this Hyperswarm-shaped swarm instead of creating one. */
  swarm?: SwarmLike
  /** Time source for the networker's timers; the simulator injects a virtual one. */
  clock?: Clock
  /** Default size limit of one extension message (bytes). Default 4 MiB. */
  maxMessageSize?: number
  /** Most remote peers at once (also passed to Hyperswarm); further keys are turned away. */
  maxPeers?: number
  /**
   * Most bytes one connection may hold unread (while authentication is pending, or while
   * Protomux holds messages for a channel not open yet); past it the connection is closed
   * and counted in `stats().totals.inboundOverflows`. Default 32 MiB.
   */
  maxInboundBuffer?: number
  /**
   * Most bytes of extension messages held for one peer until it says which extensions it
   * has (a send past it throws EXTENSION_HOLD_FULL). Default 1 MiB.
   */
  maxHeldBytes?: number
  /**
   * The grace period after a connection (ms): messages held for a peer wait this long for it
   * to have their extension, then are dropped and reported (EXTENSION_NOT_SUPPORTED). Default 10 s.
   */
  extensionHoldTimeout?: number
  /**
   * Remember every configure durably (before its promise resolves) so `restore()` can
   * re-apply them after a restart: `true` keeps the records in a private core of `store`,
   * or pass your own record store ({ put, del, iterate }). Default false.
   */
  persist?: PersistOption
  /**
   * Expose the networker's figures as Prometheus metrics on this prom-client Registry, or
   * on `{ registry, labels }` with constant labels telling several networkers on one
   * registry apart. Computed when scraped; nothing is added to the registry but ours.
   */
  metrics?: MetricsOption
  /**
   * How long a flushing configure waits, once the swarm has flushed, for the peers found
   * for the topic to replicate the topic's core (a peer that does not hold it never
   * does). Default 3 000 ms.
   */
  flushReplicationTimeout?: number
  /**
   * The liveness bound (ms): a kept connection from which nothing arrived for this long (two
   * missed keep-alives: each end writes at least every half bound) is dropped, at both ends,
   * with 'connection-drop' reason `timeout`. 0 turns it off. Default 10 000.
   */
  livenessTimeout?: number
  /** Dial a peer straight back when its connection drops while it shares a topic. Default true. */
  reconnect?: boolean
  /**
   * Leaving a topic closes the connections to networker peers that then share no topic with
   * us, `closeOnLeaveGrace` ms later (default 2 000) unless they share one again by then.
   * Default false: they stay, as the original module kept them.
   */
  closeOnLeave?: boolean
  closeOnLeaveGrace?: number
  /**
   * Also find peers on the local network, with mDNS and direct TCP, needing no DHT: `true`, or
   * `{ …tunables }` (see LanOptions). Implies a TCP listener (any free port unless
   * `listen({ tcp })` picked one first). Default off.
   */
  lan?: boolean | LanOptions
  /**
   * How long a Noise handshake over a stream the networker wraps (`adopt`, direct TCP) may
   * take before the stream is closed with HANDSHAKE_TIMEOUT (ms). Default 10 000.
   */
  handshakeTimeout?: number
  /**
   * Fixed peers over direct TCP: `'host:port'` or `{ host, port, publicKey? }` (the key
   * expected). Each is dialed once the networker is ready, and again, with capped exponential
   * backoff (0.5 s doubling to 30 s), whenever no peer of its key is connected.
   */
  directPeers?: TcpTargetInput[]
  /** Most incoming TCP sockets in their Noise handshake at once; more are closed at once. Default 64. */
  maxPendingHandshakes?: number
  /** Most of them from one remote address. Default 8. */
  maxPendingHandshakesPerHost?: number
}

/**
 * The Hyperswarm options the networker passes through to the swarm it makes (ignored when
 * `swarm` is given). Typed so a misspelt option (`maxPeer`, `bootstap`) does not compile;
 * JavaScript callers may still pass other Hyperswarm or HyperDHT options, which go through
 * as they are.
 */
export interface HyperswarmOptions {
  /** HyperDHT bootstrap nodes: `'host:port'` strings or `{ host, port }` objects. */
  bootstrap?: (string | { host: string; port: number })[]
  /** A HyperDHT instance to use (e.g. `testnet.createNode()`); the swarm makes one otherwise. */
  dht?: object
  /** Seed of the swarm's key pair (when no `keyPair` is given). */
  seed?: Uint8Array
  /** Most connections at once (also the networker's limit on remote keys). */
  maxPeers?: number
  maxClientConnections?: number
  maxServerConnections?: number
  /** Most connection attempts in flight at once. */
  maxParallel?: number
  /** Return true to refuse a connection from this key before its handshake completes. */
  firewall?: (remotePublicKey: Buffer, payload: unknown) => boolean
  /** Relay connections through these public keys (Hyperswarm's blind relays). */
  relayThrough?: Uint8Array | null | ((force: boolean) => Uint8Array | null)
  /** The HyperDHT node's UDP port (made by the swarm when no `dht` is given). */
  port?: number
}

export interface ConfigureOptions {
  /** Announce the topic so others find us (Hyperswarm `server`). Default true. */
  announce?: boolean
  /** Look the topic up to find others (Hyperswarm `client`). Default true. */
  lookup?: boolean
  /** Resolve only after the swarm has flushed and every connection found so far is settled. Default true. */
  flush?: boolean
  /** Stop waiting (reject with ABORTED) when this signal aborts; the configuration itself stays. */
  signal?: AbortSignal
  /** Stop waiting after this many ms (reject with FLUSH_TIMEOUT); the configuration itself stays. */
  timeout?: number
}

export interface CloseOptions {
  /** Resolve within this many ms even if topics cannot be unannounced or connections hang. */
  timeout?: number
}

/** registerExtension's forms: handlers, a function of the extension returning them, or all in one object. */
export type ExtensionSpec<T> = ExtensionHandlers<T> | ((ext: Extension<T>) => ExtensionHandlers<T>)

/** The networker's own options, checked and with their defaults; the rest go to Hyperswarm. */
export interface Settings {
  onauthenticate: AuthenticateHook | null
  authenticateTimeout: number
  maxMessageSize: number
  maxInboundBuffer: number
  maxHeldBytes: number
  extensionHoldTimeout: number
  flushReplicationTimeout: number
  /** Topic proofs, liveness, reconnection and closeOnLeave (see io/peer-awareness.ts). */
  awareness: AwarenessSettings
  maxPeers: number | undefined
  /** LAN discovery's tunables, or null when it is off. */
  lan: LanSettings | null
  handshakeTimeout: number
  /** Direct TCP: fixed peers and the caps on unfinished handshakes. */
  tcp: {
    directPeers: TcpTarget[]
    maxPendingHandshakes: number
    maxPendingHandshakesPerHost: number
  }
  clock: DriverClock
  /** Hyperswarm's options: everything that is not the networker's own, and `keyPair`. */
  hyperswarm: Record<string, unknown>
}

/** Options the networker reads itself; every other key goes to Hyperswarm as it is. */
const OWN_OPTIONS = new Set([
  'keyPair',
  'onauthenticate',
  'authenticateTimeout',
  'swarm',
  'clock',
  'maxMessageSize',
  'maxInboundBuffer',
  'maxHeldBytes',
  'extensionHoldTimeout',
  'persist',
  'metrics',
  'flushReplicationTimeout',
  'livenessTimeout',
  'reconnect',
  'closeOnLeave',
  'closeOnLeaveGrace',
  'lan',
  'handshakeTimeout',
  'directPeers',
  'maxPendingHandshakes',
  'maxPendingHandshakesPerHost',
])

/** Checks the constructor's arguments and fills in the defaults. */
export function settingsOf(store: unknown, opts: unknown): Settings {
  checkOptions(store, opts)
  return {
    onauthenticate: opts.onauthenticate ?? null,
    authenticateTimeout: opts.authenticateTimeout ?? DEFAULT_AUTHENTICATE_TIMEOUT,
    maxMessageSize: opts.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
    maxInboundBuffer: opts.maxInboundBuffer ?? DEFAULT_MAX_INBOUND_BUFFER,
    maxHeldBytes: opts.maxHeldBytes ?? DEFAULT_MAX_HELD_BYTES,
    extensionHoldTimeout: opts.extensionHoldTimeout ?? DEFAULT_EXTENSION_HOLD_TIMEOUT,
    flushReplicationTimeout: opts.flushReplicationTimeout ?? DEFAULT_FLUSH_REPLICATION_TIMEOUT,
    awareness: {
      livenessTimeout: opts.livenessTimeout ?? DEFAULT_LIVENESS_TIMEOUT,
      reconnect: opts.reconnect ?? true,
      closeOnLeave: opts.closeOnLeave ?? false,
      closeOnLeaveGrace: opts.closeOnLeaveGrace ?? DEFAULT_CLOSE_ON_LEAVE_GRACE,
    },
    maxPeers: opts.maxPeers,
    lan: lanSettingsOf(opts.lan),
    handshakeTimeout: opts.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT,
    tcp: {
      directPeers: directPeersOf(opts.directPeers),
      maxPendingHandshakes: opts.maxPendingHandshakes ?? DEFAULT_MAX_PENDING_HANDSHAKES,
      maxPendingHandshakesPerHost:
        opts.maxPendingHandshakesPerHost ?? DEFAULT_MAX_PENDING_HANDSHAKES_PER_HOST,
    },
    clock: opts.clock ?? realClock,
    hyperswarm: hyperswarmOptions(opts),
  }
}

/** A configure call's options, checked, with their defaults. */
export interface ConfigureRequest {
  announce: boolean
  lookup: boolean
  flush: boolean
  signal: AbortSignal | undefined
  timeout: number | undefined
}

export function configureRequestOf(opts: unknown): ConfigureRequest {
  if (typeof opts !== 'object' || opts === null) {
    throw new NetworkerError(
      ErrorCode.INVALID_OPTION,
      `configure options must be an object, got ${describe(opts)}`,
    )
  }
  const o = opts as ConfigureOptions
  const announce = booleanOption(o.announce, 'announce', true)
  const lookup = booleanOption(o.lookup, 'lookup', true)
  const flush = booleanOption(o.flush, 'flush', true)
  const { signal, timeout } = o
  if (signal !== undefined && !isAbortSignal(signal)) {
    throw new NetworkerError(
      ErrorCode.INVALID_OPTION,
      `option signal must be an AbortSignal, got ${describe(signal)}`,
    )
  }
  checkNumber(timeout, 'option timeout', { zero: true, unit: 'ms' })
  return { announce, lookup, flush, signal, timeout }
}

/** close()'s `timeout`, checked. */
export function closeTimeoutOf(opts: CloseOptions | undefined): number | undefined {
  const timeout = opts?.timeout
  checkNumber(timeout, 'close timeout', { zero: true, unit: 'ms' })
  return timeout
}

/** registerExtension's three forms, checked: the name and the handlers (or their factory). */
export function extensionArgsOf<T>(
  nameOrSpec: unknown,
  spec: ExtensionSpec<T> | undefined,
): { name: string; handlers: ExtensionSpec<T> } {
  let name: unknown = nameOrSpec
  let handlers: unknown = spec
  if (typeof nameOrSpec === 'object' && nameOrSpec !== null) {
    name = (nameOrSpec as { name?: unknown }).name
    handlers = nameOrSpec
  }
  if (typeof name !== 'string' || name.length === 0) {
    throw new NetworkerError(
      ErrorCode.INVALID_OPTION,
      `an extension needs a non-empty string name, got ${describe(name)}`,
    )
  }
  if (handlers === undefined) handlers = {}
  if (typeof handlers === 'function') return { name, handlers: handlers as ExtensionSpec<T> }
  if (typeof handlers !== 'object' || handlers === null) {
    throw new NetworkerError(
      ErrorCode.INVALID_OPTION,
      `extension handlers must be an object or a function, got ${describe(handlers)}`,
    )
  }
  checkHandlers(handlers as ExtensionHandlers<T>)
  return { name, handlers: handlers as ExtensionHandlers<T> }
}

/** Checks handler fields up front, so a bad registration throws at the call, not later. */
export function checkHandlers<T>(handlers: ExtensionHandlers<T>): void {
  for (const key of ['onmessage', 'onerror'] as const) {
    const fn = handlers[key]
    if (fn !== undefined && typeof fn !== 'function') {
      throw new NetworkerError(
        ErrorCode.INVALID_OPTION,
        `extension ${key} must be a function, got ${describe(fn)}`,
      )
    }
  }
  checkNumber(handlers.maxMessageSize, 'extension maxMessageSize', { unit: 'bytes' })
  resolveEncoding(handlers.encoding)
}

interface NumberRule {
  /** Zero is allowed (a non-negative number); otherwise it must be positive. */
  zero?: boolean
  /** Infinity is refused: a timer of Infinity ms fires at once, and an unbounded hold is no bound. */
  finite?: boolean
  unit?: 'ms' | 'bytes'
}

/** The one check of a numeric option: undefined passes (the default applies), NaN never does. */
function checkNumber(value: unknown, name: string, rule: NumberRule): void {
  if (value === undefined) return
  const ok =
    typeof value === 'number' &&
    (rule.zero === true ? value >= 0 : value > 0) &&
    (rule.finite !== true || Number.isFinite(value))
  if (ok) return
  const kind =
    rule.zero === true ? 'non-negative' : rule.finite === true ? 'positive, finite' : 'positive'
  const unit = rule.unit === undefined ? '' : ` of ${rule.unit}`
  throw new NetworkerError(ErrorCode.INVALID_OPTION, `${name} must be a ${kind} number${unit}`)
}

function checkOptions(store: unknown, opts: unknown): asserts opts is NetworkerOptions {
  if (
    typeof store !== 'object' ||
    store === null ||
    typeof (store as ReplicatingStore).replicate !== 'function'
  ) {
    throw new NetworkerError(
      ErrorCode.INVALID_OPTION,
      `store must be a Corestore (an object with replicate(stream)), got ${describe(store)}`,
    )
  }
  if (typeof opts !== 'object' || opts === null) {
    throw new NetworkerError(
      ErrorCode.INVALID_OPTION,
      `options must be an object, got ${describe(opts)}`,
    )
  }
  const o = opts as Record<string, unknown>
  if (o.keyPair !== undefined && !isKeyPair(o.keyPair)) {
    throw new NetworkerError(
      ErrorCode.INVALID_OPTION,
      'keyPair must be { publicKey: 32 bytes, secretKey: 64 bytes } (a Noise/ed25519 key pair)',
    )
  }
  if (o.onauthenticate !== undefined && typeof o.onauthenticate !== 'function') {
    throw new NetworkerError(
      ErrorCode.INVALID_OPTION,
      `onauthenticate must be a function, got ${describe(o.onauthenticate)}`,
    )
  }
  checkNumber(o.authenticateTimeout, 'authenticateTimeout', { unit: 'ms' })
  checkNumber(o.maxMessageSize, 'maxMessageSize', { unit: 'bytes' })
  checkNumber(o.maxInboundBuffer, 'maxInboundBuffer', { unit: 'bytes' })
  checkNumber(o.maxHeldBytes, 'maxHeldBytes', { finite: true, unit: 'bytes' })
  checkNumber(o.extensionHoldTimeout, 'extensionHoldTimeout', { finite: true, unit: 'ms' })
  checkNumber(o.maxPeers, 'maxPeers', { zero: true })
  // Zero: do not wait for replication. Without this check a non-number made the wait's
  // deadline NaN, so a flush waited for good on a peer that never opens the core.
  checkNumber(o.flushReplicationTimeout, 'flushReplicationTimeout', { zero: true, unit: 'ms' })
  checkNumber(o.livenessTimeout, 'livenessTimeout', { zero: true, finite: true, unit: 'ms' })
  booleanOption(o.reconnect, 'reconnect', true)
  booleanOption(o.closeOnLeave, 'closeOnLeave', false)
  checkNumber(o.closeOnLeaveGrace, 'closeOnLeaveGrace', { zero: true, finite: true, unit: 'ms' })
  checkNumber(o.handshakeTimeout, 'handshakeTimeout', { finite: true, unit: 'ms' })
  checkNumber(o.maxPendingHandshakes, 'maxPendingHandshakes', {})
  checkNumber(o.maxPendingHandshakesPerHost, 'maxPendingHandshakesPerHost', {})
  directPeersOf(o.directPeers)
  if (o.swarm !== undefined && !isSwarmLike(o.swarm)) {
    throw new NetworkerError(
      ErrorCode.INVALID_OPTION,
      'swarm must be Hyperswarm-shaped (join, leave, flush, on, destroy, keyPair)',
    )
  }
}

function isKeyPair(value: unknown): boolean {
  const kp = value as Partial<KeyPair> | null
  return (
    typeof kp === 'object' &&
    kp !== null &&
    kp.publicKey instanceof Uint8Array &&
    kp.publicKey.byteLength === 32 &&
    kp.secretKey instanceof Uint8Array &&
    kp.secretKey.byteLength === 64
  )
}

function booleanOption(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') {
    throw new NetworkerError(
      ErrorCode.INVALID_OPTION,
      `option ${name} must be a boolean, got ${describe(value)}`,
    )
  }
  return value
}

function isAbortSignal(value: unknown): value is AbortSignal {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as AbortSignal).addEventListener === 'function' &&
    typeof (value as AbortSignal).aborted === 'boolean'
  )
}

function hyperswarmOptions(opts: NetworkerOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(opts)) if (!OWN_OPTIONS.has(k)) out[k] = v
  if (opts.keyPair !== undefined) out.keyPair = opts.keyPair
  return out
}
