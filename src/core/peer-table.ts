import type { KeyHex } from './keys.js'
import { type Instance, type LeanHost, LeanMachine } from './lean-machine.js'
import { type PeerContext, type PeerEvent, peerMachine } from './peer-machine.js'
import type { ConnectionId, CoreEffect, CoreEvent } from './protocol.js'
import type { TimerHandle, TimerQueue } from './timer-queue.js'

// Compiled once; a peer is only its state and context (lean-machine.ts).
const machine = new LeanMachine(peerMachine)
const IDLE = machine.state('idle')

export interface PeerEntry {
  remoteKey: KeyHex
  connectionId: ConnectionId
}

export interface PeerTableOptions {
  authenticate: boolean
  /** How long a connection may wait for its verdict before it is rejected (ms). */
  authenticateTimeout: number
  candidateTimeout: number
  maxPeers: number
}

interface ConnectionRecord {
  remoteKey: KeyHex
  isInitiator: boolean
  /** Orders two connections the same end dialed, alike at both ends (dedup-rule.ts). */
  handshakeHash: string | null
  remoteData: boolean
  /** Authenticated and handed to its peer machine. */
  admitted: boolean
  /** The authentication deadline, while the verdict is awaited. */
  deadline: TimerHandle | null
}

interface PeerRecord extends Instance<PeerContext> {
  /** The machine's pending delays (a contested duplicate's deadline), by XState's id. */
  timers: Map<string, TimerHandle> | null
}

type OpenEvent = Extract<CoreEvent, { type: 'connection-opened' }>

/**
 * Every connection the core knows of, and every remote key with an admitted one, each an
 * instance of the peer machine. A peer whose machine is idle again holds no connection and
 * is forgotten once the event is handled.
 */
export class PeerTable {
  private readonly records = new Map<KeyHex, PeerRecord>()
  private readonly connections = new Map<ConnectionId, ConnectionRecord>()
  // Kept up to date as each peer steps, so no event has to scan every peer (that made each
  // event O(peers)).
  private readonly idle = new Set<KeyHex>()
  private readonly host: LeanHost<PeerEvent, CoreEffect>

  constructor(
    private readonly options: PeerTableOptions,
    private readonly timers: TimerQueue,
    private readonly emit: (effect: CoreEffect) => void,
    /** A connection got its verdict (kept, dropped or closed): flushes may wait on that. */
    private readonly settled: (connectionId: ConnectionId) => void,
  ) {
    this.host = {
      emit,
      schedule: (instance, id, delay, event) => {
        const record = instance as PeerRecord
        const fire = (): void => {
          record.timers?.delete(id)
          this.step(record, event)
        }
        record.timers ??= new Map()
        record.timers.set(id, timers.setTimeout(fire, delay))
      },
      cancel: (instance, id) => {
        const record = instance as PeerRecord
        timers.clearTimeout(record.timers?.get(id))
        record.timers?.delete(id)
      },
    }
  }

  get size(): number {
    return this.records.size
  }

  /** The kept connection of every connected remote key. */
  peers(): PeerEntry[] {
    const out: PeerEntry[] = []
    for (const [remoteKey, record] of this.records) {
      const kept = record.context.kept
      if (kept !== null) out.push({ remoteKey, connectionId: kept.connectionId })
    }
    return out
  }

  /** Whether any connection is not settled yet: `pending()` without making the list. */
  hasPending(): boolean {
    for (const c of this.connections.values()) if (!c.admitted) return true
    return false
  }

  /** Connections not yet settled (awaiting their verdict). */
  pending(): ConnectionId[] {
    const out: ConnectionId[] = []
    for (const [id, c] of this.connections) if (!c.admitted) out.push(id)
    return out
  }

  /** A new connection: dropped if nothing can be decided about it, else authenticated or admitted. */
  opened(event: OpenEvent, localKey: KeyHex | null, open: boolean): void {
    const { connectionId, remoteKey, isInitiator } = event
    const handshakeHash = event.handshakeHash ?? null
    if (this.connections.has(connectionId)) return
    // No connection can come before the identity is known (the swarm needs it); if one
    // did, nothing could be decided about it, so it is dropped.
    if (!open || localKey === null || remoteKey === localKey) {
      this.emit({ type: 'drop-connection', connectionId, remoteKey, reason: 'closing' })
      return
    }
    const record: ConnectionRecord = {
      remoteKey,
      isInitiator,
      handshakeHash,
      remoteData: false,
      admitted: false,
      deadline: null,
    }
    this.connections.set(connectionId, record)
    if (!this.options.authenticate) {
      this.admit(connectionId, record, localKey)
      return
    }
    this.emit({ type: 'authenticate', connectionId, remoteKey })
    // No answer in time is a rejection.
    const expire = () => this.verdict(connectionId, false, localKey)
    record.deadline = this.timers.setTimeout(expire, this.options.authenticateTimeout)
  }

  /** The authentication verdict (or its deadline): admit, or drop as rejected. */
  verdict(connectionId: ConnectionId, accepted: boolean, localKey: KeyHex): void {
    const record = this.connections.get(connectionId)
    if (record === undefined || record.admitted) return
    this.timers.clearTimeout(record.deadline)
    record.deadline = null
    if (accepted) {
      this.admit(connectionId, record, localKey)
    } else {
      this.connections.delete(connectionId)
      const { remoteKey } = record
      this.emit({ type: 'drop-connection', connectionId, remoteKey, reason: 'rejected' })
    }
    this.settled(connectionId)
  }

  data(connectionId: ConnectionId): void {
    const record = this.connections.get(connectionId)
    if (record === undefined || record.remoteData) return
    record.remoteData = true
    if (record.admitted) {
      this.step(this.records.get(record.remoteKey), { type: 'connection-data', connectionId })
    }
  }

  closed(connectionId: ConnectionId): void {
    const record = this.connections.get(connectionId)
    if (record === undefined) return
    this.connections.delete(connectionId)
    if (record.admitted) {
      this.step(this.records.get(record.remoteKey), { type: 'connection-closed', connectionId })
      return
    }
    this.timers.clearTimeout(record.deadline)
    this.settled(connectionId)
  }

  /** The networker closes: peers drop their connections, pending ones are dropped now. */
  close(): void {
    for (const record of this.records.values()) this.step(record, { type: 'close' })
    for (const [connectionId, record] of this.connections) {
      if (record.admitted) continue
      this.connections.delete(connectionId)
      this.timers.clearTimeout(record.deadline)
      const { remoteKey } = record
      this.emit({ type: 'drop-connection', connectionId, remoteKey, reason: 'closing' })
    }
  }

  /** The close deadline passed: every peer is dropped and removed now. */
  force(): void {
    for (const [remoteKey, record] of this.records) {
      const { kept, candidate } = record.context
      for (const slot of [kept, candidate]) {
        if (slot === null) continue
        const { connectionId } = slot
        this.connections.delete(connectionId)
        this.emit({ type: 'drop-connection', connectionId, remoteKey, reason: 'closing' })
      }
      if (kept !== null) {
        this.emit({ type: 'peer-remove', connectionId: kept.connectionId, remoteKey })
      }
      // Stopped as an actor is: its pending delays go with it.
      for (const handle of record.timers?.values() ?? []) this.timers.clearTimeout(handle)
    }
    this.records.clear()
  }

  /** Forgets the peers left idle by the event just handled. */
  forgetIdle(): void {
    // Most events leave no peer idle: nothing to walk then.
    if (this.idle.size === 0) return
    for (const key of this.idle) this.records.delete(key)
    this.idle.clear()
  }

  private admit(connectionId: ConnectionId, record: ConnectionRecord, localKey: KeyHex): void {
    const { remoteKey } = record
    let peer = this.records.get(remoteKey)
    if (peer === undefined && this.records.size >= this.options.maxPeers) {
      this.connections.delete(connectionId)
      this.emit({ type: 'drop-connection', connectionId, remoteKey, reason: 'limit' })
      return
    }
    record.admitted = true
    if (peer === undefined) {
      const input = { localKey, remoteKey, candidateTimeout: this.options.candidateTimeout }
      peer = machine.start(input, (state, context) => ({ state, context, timers: null }), this.host)
      this.records.set(remoteKey, peer)
    }
    const { isInitiator, remoteData, handshakeHash } = record
    this.step(peer, { type: 'admit', connectionId, isInitiator, remoteData, handshakeHash })
  }

  private step(record: PeerRecord | undefined, event: PeerEvent): void {
    if (record === undefined) return
    machine.send(record, event, this.host)
    const key = record.context.remoteKey
    if (record.state === IDLE) this.idle.add(key)
    else this.idle.delete(key)
  }
}
