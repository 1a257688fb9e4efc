import { ErrorCode, NetworkerError } from '../core/errors.js'
import { bytesToHex } from '../core/keys.js'
import type { DriverClock } from './core-driver.js'
import { log, short } from './debug-log.js'
import type { Extension, ExtensionHost, SendResult } from './extension.js'
import { GraceQueue } from './extension-grace.js'
import { type LinkOwner, PeerLink } from './extension-link.js'
import { type ExtensionCounts, type LinkTally, RetiredTallies } from './extension-tally.js'
import {
  decodeAdd,
  decodeHello,
  decodeRemove,
  EXTENSIONS_PROTOCOL,
  encodeHello,
  splitData,
  WireError,
} from './extension-wire.js'
import type { NetworkerPeer } from './peer.js'
import { guard, messageOf, rethrowLater } from './util.js'

type AnyExtension = Extension<unknown>

export const DEFAULT_MAX_HELD_BYTES = 1024 * 1024
export const DEFAULT_EXTENSION_HOLD_TIMEOUT = 10_000

/** Counters of extension traffic the networker dropped (never reset). */
export interface ExtensionStats {
  /** Messages for an extension we do not have (any more): a race with our own unregister. */
  extensionMessagesDropped: number
  /** Control frames that did not parse or broke a bound; only the first per connection is reported. */
  extensionFramesMalformed: number
}

export interface RegistryOptions {
  clock: DriverClock
  /** Most bytes held per peer while its answer is pending. */
  maxHeldBytes: number
  /** The grace period after a connection: how long messages may wait for the remote. */
  holdTimeout: number
  stats: ExtensionStats
  isPeer(peer: NetworkerPeer): boolean
  findPeer(remotePublicKey: Uint8Array | string): NetworkerPeer | null
  /** Emits 'extension-error'; returns whether anyone listened. */
  reportError(err: NetworkerError, extension: string, peer: NetworkerPeer | null): boolean
  /** The networker is closing: what is dropped now was the caller's choice, not news. */
  closing(): boolean
}

/**
 * Every extension of one networker on every connection it keeps. Per connection, one
 * channel (see extension-wire.ts) whose handshake lists our registrations; later changes
 * follow as `add`/`remove`. A message is written only once the remote is known to have
 * its extension; until the remote's answer it is held, bounded in bytes and by the grace
 * period, and dropped with EXTENSION_NOT_SUPPORTED if the remote turns out not to have it.
 *
 * The channel is opened once either side has an extension: by us when we have one when the
 * peer is listed or register our first later, and by the remote otherwise (ours answers it,
 * see extension-link.ts). While neither side has any, nothing is said: there is nothing to
 * say, and a channel would cost every connection its memory.
 */
export class ExtensionRegistry implements ExtensionHost, LinkOwner {
  private readonly local = new Map<string, AnyExtension>()
  private readonly ids = new Map<AnyExtension, number>()
  private nextId = 0
  private readonly links = new Map<NetworkerPeer, PeerLink>()
  /** The message counts of connections that are gone. */
  private readonly retired = new RetiredTallies()
  /** Each connection's grace period, on one timer. */
  private readonly grace: GraceQueue<PeerLink>
  private announcing = false
  private destroyed = false
  /** Our handshake, encoded once per change of registrations (Protomux copies it per channel). */
  private helloBytes: Uint8Array | null = null

  constructor(private readonly opts: RegistryOptions) {
    this.grace = new GraceQueue(opts.clock, opts.holdTimeout, (link) =>
      guard(() => this.endGrace(link)),
    )
  }

  /** Adds `ext`, replacing (destroying) an earlier registration of its name. */
  register(ext: AnyExtension): void {
    if (this.destroyed) return
    this.local.get(ext.name)?.destroy()
    const id = this.nextId++
    this.local.set(ext.name, ext)
    this.ids.set(ext, id)
    this.helloBytes = null
    const hello = this.hello()
    for (const link of this.links.values()) {
      // Our first extension on a connection where neither side had one: the channel opens
      // now, its handshake listing this one.
      if (link.unopened) link.open(hello)
      else link.sendAdd({ id, name: ext.name })
      if (link.answer === 'answered' && link.remoteHas(ext.name)) link.share(ext)
    }
    // Told on a later turn, so a listener added right after registerExtension returns hears it.
    this.announceSoon()
  }

  /** Called by Extension.destroy(). Whatever it held is dropped without a report. */
  unregister(ext: { readonly name: string }): void {
    const e = ext as AnyExtension
    const id = this.ids.get(e)
    if (id === undefined) return
    this.ids.delete(e)
    this.helloBytes = null
    if (this.local.get(e.name) === e) this.local.delete(e.name)
    for (const link of [...this.links.values()]) {
      link.sendRemove(id)
      link.drop(e)
      link.unshare(e)
      this.settleTimer(link)
      this.reconcile(link)
    }
  }

  /**
   * Starts the extensions on a kept connection, before its 'peer-add': its channel opens if
   * we have an extension, and its grace period starts.
   */
  attach(peer: NetworkerPeer): void {
    if (this.destroyed || this.links.has(peer)) return
    const link = new PeerLink(peer, this)
    this.links.set(peer, link)
    if (this.ids.size > 0) link.open(this.hello())
    if (link.answer === 'pending') this.grace.start(link)
  }

  /** The peer is gone: its extensions leave, what was held for it is dropped and reported. */
  detach(peer: NetworkerPeer): void {
    const link = this.links.get(peer)
    if (link === undefined) return
    this.links.delete(peer)
    link.unpair()
    this.grace.stop(link)
    this.dropHeld(link, 'disconnected before it had the extension')
    this.retire(link)
    link.answer = 'none'
    link.forgetRemote()
    link.unshareAll()
    this.reconcile(link)
  }

  /** The networker is closing: every extension is destroyed and every channel closed. */
  destroyAll(): void {
    for (const ext of [...this.local.values()]) ext.destroy()
    this.destroyed = true
    this.grace.clear()
    for (const link of this.links.values()) {
      for (const ext of link.heldExtensions()) link.drop(ext)
      link.close()
      this.retire(link)
    }
    this.links.clear()
  }

  /** Open extension channels, at most one per kept connection: zero once every peer is gone. */
  get channelCount(): number {
    let n = 0
    for (const link of this.links.values()) if (link.live) n++
    return n
  }

  /** One peer's extension message counts, by extension name. */
  countsOf(peer: NetworkerPeer): Record<string, ExtensionCounts> {
    return this.links.get(peer)?.tallyIfAny?.snapshot() ?? {}
  }

  /** Every extension's message counts, by name, closed connections included. */
  countTotals(): Record<string, ExtensionCounts> {
    const live: LinkTally[] = []
    for (const link of this.links.values()) {
      const tally = link.tallyIfAny
      if (tally !== null) live.push(tally)
    }
    return this.retired.sum(live)
  }

  /** Grace-period timers armed (one for all connections): zero once every grace period is over. */
  get timerCount(): number {
    return this.grace.timerCount
  }

  // ExtensionHost: what an Extension asks of the wire.

  isPeer(peer: NetworkerPeer): boolean {
    return this.opts.isPeer(peer)
  }

  findPeer(remotePublicKey: Uint8Array | string): NetworkerPeer | null {
    return this.opts.findPeer(remotePublicKey)
  }

  reportError(err: NetworkerError, extension: string, peer: NetworkerPeer | null): boolean {
    return this.opts.reportError(err, extension, peer)
  }

  send(ext: AnyExtension, peer: NetworkerPeer, bytes: Uint8Array): SendResult {
    const link = this.links.get(peer)
    const id = this.ids.get(ext)
    if (link === undefined || id === undefined) return 'unreachable'
    if (link.shared.has(ext)) {
      link.tally.sent(ext.name, bytes.byteLength)
      return link.sendData(id, bytes) ? 'sent' : 'full'
    }
    if (!link.canHold(ext)) return 'unreachable'
    if (link.hold(ext, bytes, this.opts.maxHeldBytes)) return 'held'
    link.tally.dropped(ext.name)
    return 'hold-full'
  }

  /** Peers a broadcast goes to: those that have `ext`, and those whose answer is awaited. */
  targets(ext: AnyExtension): NetworkerPeer[] {
    const out: NetworkerPeer[] = []
    for (const [peer, link] of this.links)
      if (link.shared.has(ext) || link.canHold(ext)) out.push(peer)
    return out
  }

  has(ext: AnyExtension, peer: NetworkerPeer): boolean {
    return this.links.get(peer)?.shared.has(ext) ?? false
  }

  peersOf(ext: AnyExtension): NetworkerPeer[] {
    const out: NetworkerPeer[] = []
    for (const [peer, link] of this.links) if (link.shared.has(ext)) out.push(peer)
    return out
  }

  // LinkOwner: what arrives on a channel.

  /** Our registrations as our handshake lists them, encoded. */
  hello(): Uint8Array {
    this.helloBytes ??= encodeHello([...this.ids].map(([ext, id]) => ({ id, name: ext.name })))
    return this.helloBytes
  }

  onhello(link: PeerLink, bytes: Uint8Array): void {
    if (!this.current(link)) return
    let names: string[] = []
    try {
      names = link.applyHello(decodeHello(bytes))
    } catch (err) {
      // Unreadable: take it as an empty list, so later `add`s can still be understood.
      this.malformed(link, 'handshake', err)
      link.forgetRemote()
    }
    link.answer = 'answered'
    this.gained(link, names)
  }

  onadd(link: PeerLink, bytes: Uint8Array): void {
    if (!this.current(link)) return
    try {
      const entry = decodeAdd(bytes)
      const lost = link.applyAdd(entry)
      if (lost !== null) this.lost(link, lost)
      this.gained(link, [entry.name])
    } catch (err) {
      this.malformed(link, 'add', err)
    }
  }

  onremove(link: PeerLink, bytes: Uint8Array): void {
    if (!this.current(link)) return
    let name: string | null
    try {
      name = link.applyRemove(decodeRemove(bytes))
    } catch (err) {
      this.malformed(link, 'remove', err)
      return
    }
    if (name === null) this.malformed(link, 'remove', new WireError('an id it never announced'))
    else this.lost(link, name)
  }

  ondata(link: PeerLink, frame: Uint8Array): void {
    if (!this.current(link)) return
    let id: number
    let bytes: Uint8Array
    try {
      ;({ id, bytes } = splitData(frame))
    } catch (err) {
      this.malformed(link, 'data', err)
      return
    }
    const name = link.nameOf(id)
    if (name === undefined) {
      this.malformed(link, 'data', new WireError('an id it never announced'))
      return
    }
    const ext = this.local.get(name)
    // Sent before our `remove` reached it: not the sender's fault, nothing to report.
    if (ext === undefined) {
      this.opts.stats.extensionMessagesDropped++
      return
    }
    link.tally.received(name, bytes.byteLength)
    if (!ext.receive(bytes, link.peer)) link.tally.dropped(name)
  }

  onclosed(link: PeerLink): void {
    if (!this.current(link)) return
    const reason =
      link.answer === 'pending'
        ? 'runs no networker extensions (it refused the extensions channel)'
        : 'closed its extensions channel'
    link.answer = 'none'
    link.forgetRemote()
    link.unshareAll()
    this.stopTimer(link)
    this.dropHeld(link, reason)
    this.reconcile(link)
  }

  ondrain(link: PeerLink): void {
    if (!this.current(link)) return
    for (const ext of [...this.local.values()]) ext.notify('drain')
  }

  /** The remote has these names now: release what was held for them, in order, then announce. */
  private gained(link: PeerLink, names: string[]): void {
    for (const name of names) {
      const ext = this.local.get(name)
      const id = ext === undefined ? undefined : this.ids.get(ext)
      if (ext === undefined || id === undefined || link.shared.has(ext)) continue
      link.unwithdraw(ext)
      link.release(ext, id)
      link.share(ext)
    }
    this.settleTimer(link)
    this.reconcile(link)
  }

  private lost(link: PeerLink, name: string): void {
    const ext = this.local.get(name)
    if (ext !== undefined) {
      link.unshare(ext)
      link.withdraw(ext)
    }
    this.reconcile(link)
  }

  /**
   * Tells each extension of the changes in `shared` it has not heard of: removals first,
   * then additions. State is complete before any listener runs, and each check is made
   * afresh, so a listener may send, destroy or close without leaving anything half-done.
   */
  private reconcile(link: PeerLink): void {
    // Each set is walked in a copy, as a listener may change it; an empty one is not copied
    // (most reconciles of a connection find one or both empty).
    if (link.announced.size > 0) {
      for (const ext of [...link.announced]) {
        if (link.shared.has(ext) || !link.unmarkAnnounced(ext)) continue
        ext.notify('peer-remove', link.peer)
      }
    }
    if (link.shared.size === 0) return
    for (const ext of [...link.shared]) {
      if (link.announced.has(ext) || !link.shared.has(ext)) continue
      link.markAnnounced(ext)
      ext.notify('peer-add', link.peer)
    }
  }

  private announceSoon(): void {
    if (this.announcing) return
    this.announcing = true
    queueMicrotask(() => {
      this.announcing = false
      for (const link of [...this.links.values()]) if (this.current(link)) this.reconcile(link)
    })
  }

  /** The grace period after the connection is over: nothing waits for the remote any longer. */
  private endGrace(link: PeerLink): void {
    link.graceOver = true
    const seconds = `${this.opts.holdTimeout} ms`
    this.dropHeld(
      link,
      link.answer === 'pending'
        ? `did not answer within ${seconds} of connecting`
        : `did not register it within ${seconds} of connecting`,
    )
  }

  private dropHeld(link: PeerLink, reason: string): void {
    const quiet = this.opts.closing()
    for (const ext of link.heldExtensions()) {
      const queue = link.drop(ext)
      if (queue === null || quiet) continue
      const key = bytesToHex(link.peer.remotePublicKey).slice(0, 16)
      ext.report(
        new NetworkerError(
          ErrorCode.EXTENSION_NOT_SUPPORTED,
          `extension '${ext.name}' dropped ${queue.messages.length} held message(s) (${queue.bytes} bytes): peer ${key} ${reason}`,
        ),
        link.peer,
      )
    }
  }

  /**
   * The grace timer runs its whole course while anything may still be held (a remote that
   * answered without an extension may register it within the grace period); it is needed
   * no more once the remote can answer nothing (its channel closed) and nothing is held.
   */
  private settleTimer(link: PeerLink): void {
    if (link.answer === 'none' && !link.holding) this.stopTimer(link)
  }

  private stopTimer(link: PeerLink): void {
    this.grace.stop(link)
  }

  private retire(link: PeerLink): void {
    const tally = link.tallyIfAny
    if (tally !== null) this.retired.retire(tally)
  }

  private current(link: PeerLink): boolean {
    return this.links.get(link.peer) === link
  }

  private malformed(link: PeerLink, what: string, err: unknown): void {
    this.opts.stats.extensionFramesMalformed++
    if (link.malformedReported) return
    link.malformedReported = true
    const detail = messageOf(err)
    const failure = new NetworkerError(
      ErrorCode.DECODE_FAILED,
      `a malformed '${what}' frame on the extensions channel was ignored (${detail}); later ones are only counted`,
      { cause: err },
    )
    if (log.extension.enabled) {
      log.extension(
        '%s with %s: %s',
        EXTENSIONS_PROTOCOL,
        short(bytesToHex(link.peer.remotePublicKey)),
        failure.message,
      )
    }
    try {
      this.opts.reportError(failure, EXTENSIONS_PROTOCOL, link.peer)
    } catch (thrown) {
      rethrowLater(thrown)
    }
  }
}
