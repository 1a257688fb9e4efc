import type { Clock } from '../core/clock.js'
import { bytesToHex, type KeyHex } from '../core/keys.js'
import { type NetworkerPeer, peerKeyHex } from './peer.js'
import type { TcpTarget } from './tcp-options.js'

/** The first wait before dialing a fixed peer again (ms); it doubles per failed dial. */
export const DIRECT_PEER_BASE_DELAY = 500
/** The longest wait between two dials of a fixed peer (ms). */
export const DIRECT_PEER_MAX_DELAY = 30_000
/**
 * A connection that lived this long ended the backoff: losing it dials again at the base
 * delay. One that did not goes on doubling, so a peer that takes us only to close us at
 * once (its onauthenticate says no, say) is not dialed in a tight loop.
 */
export const DIRECT_PEER_STABLE_MS = 5000
const JITTER = 0.25

export interface DirectPeerHooks {
  clock: Clock
  /** Dials the target over TCP; resolves to the peer listed for its key. */
  dial(target: TcpTarget): Promise<NetworkerPeer>
  /** The networker is open. */
  open(): boolean
  /** A peer of this key is listed now (over any transport). */
  connected(remoteKey: KeyHex): boolean
}

interface Entry {
  target: TcpTarget
  /** Its key: given, or learned from the first connection. */
  key: KeyHex | null
  /** Dials that did not end in a lasting connection since the last one that did. */
  failures: number
  timer: unknown
  dialing: boolean
  /** When its peer was last listed (for the stable-connection rule). */
  upSince: number | null
}

/**
 * The `directPeers` option: fixed TCP peers, dialed once the networker is ready and dialed
 * again — with capped exponential backoff — whenever no peer of their key is listed while the
 * networker is open. A fixed peer reached over another transport (the swarm's UDX won the
 * dedup) counts as connected: nothing is dialed until that peer is gone, so the two
 * transports never take turns replacing each other.
 */
export class DirectPeers {
  private readonly entries: Entry[]
  private started = false
  private stopped = false

  constructor(
    targets: readonly TcpTarget[],
    private readonly hooks: DirectPeerHooks,
  ) {
    this.entries = targets.map((target) => ({
      target,
      key: target.publicKey === undefined ? null : bytesToHex(target.publicKey),
      failures: 0,
      timer: null,
      dialing: false,
      upSince: null,
    }))
  }

  /** Dial timers pending (diagnostics). */
  get pending(): number {
    return this.entries.filter((e) => e.timer !== null).length
  }

  /** The networker is ready: every fixed peer is dialed now. */
  start(): void {
    if (this.started || this.stopped) return
    this.started = true
    for (const entry of this.entries) this.dial(entry)
  }

  /** A peer was listed: a fixed peer's connection (over any transport) stops its backoff. */
  added(peer: NetworkerPeer): void {
    // Most networkers have no fixed peers: nothing to look up.
    if (this.entries.length === 0) return
    const key = peerKeyHex(peer)
    for (const entry of this.entries) {
      if (entry.key !== key) continue
      entry.upSince = this.hooks.clock.now()
      this.cancel(entry)
    }
  }

  /** A peer was unlisted: a fixed peer with no other connection is dialed again. */
  removed(peer: NetworkerPeer): void {
    if (!this.started || this.stopped || this.entries.length === 0) return
    const key = peerKeyHex(peer)
    for (const entry of this.entries) {
      if (entry.key !== key || entry.dialing || entry.timer !== null) continue
      const lived = entry.upSince === null ? 0 : this.hooks.clock.now() - entry.upSince
      entry.upSince = null
      if (lived >= DIRECT_PEER_STABLE_MS) entry.failures = 0
      else entry.failures++
      this.schedule(entry)
    }
  }

  /** The networker closes: nothing more is dialed. */
  stop(): void {
    this.stopped = true
    for (const entry of this.entries) this.cancel(entry)
  }

  private dial(entry: Entry): void {
    if (this.stopped || !this.hooks.open() || entry.dialing) return
    if (entry.key !== null && this.hooks.connected(entry.key)) return
    entry.dialing = true
    this.hooks.dial(entry.target).then(
      (peer) => {
        entry.dialing = false
        entry.key ??= peerKeyHex(peer)
        // Listed, but gone again before we heard: dial as for any loss.
        if (!this.hooks.connected(entry.key)) this.failed(entry)
      },
      () => {
        entry.dialing = false
        this.failed(entry)
      },
    )
  }

  private failed(entry: Entry): void {
    // Unless it lasted (added() then removed() decide), a dial that did not hold counts.
    entry.failures++
    if (!this.stopped && this.hooks.open()) this.schedule(entry)
  }

  private schedule(entry: Entry): void {
    if (this.stopped || entry.timer !== null) return
    const base = Math.min(
      DIRECT_PEER_MAX_DELAY,
      // The first failure waits the base delay; each further one doubles it.
      DIRECT_PEER_BASE_DELAY * 2 ** Math.min(Math.max(0, entry.failures - 1), 16),
    )
    // Spread so that many networkers that lost one peer together do not dial it in step;
    // derived, not random, so a simulated run replays exactly.
    const delay = base * (1 - JITTER + JITTER * 2 * spread(entry))
    entry.timer = this.hooks.clock.setTimeout(() => {
      entry.timer = null
      this.dial(entry)
    }, delay)
  }

  private cancel(entry: Entry): void {
    if (entry.timer === null) return
    this.hooks.clock.clearTimeout(entry.timer)
    entry.timer = null
  }
}

/** A number in [0, 1) from the target and its failures: the same run, the same waits. */
function spread(entry: Entry): number {
  let h = 0x811c9dc5 ^ entry.failures
  for (const ch of `${entry.target.host}:${entry.target.port}`) {
    h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193)
  }
  return (h >>> 0) / 2 ** 32
}
