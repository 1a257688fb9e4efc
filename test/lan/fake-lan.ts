import packet from 'dns-packet'
import crypto from 'hypercore-crypto'
import type { VirtualClock } from '../../sim/virtual-clock.js'
import { bytesToHex, type KeyHex } from '../../src/core/keys.js'
import { LanDiscovery } from '../../src/io/lan-discovery.js'
import type { LanSettings } from '../../src/io/lan-options.js'
import type { LanDialTarget } from '../../src/io/lan-querier.js'
import type {
  LanSender,
  LanSocket,
  LanSocketFactory,
  LanSocketHandlers,
} from '../../src/io/lan-socket.js'
import { EPOCH_MS } from '../../src/io/lan-wire.js'

/**
 * An in-memory LAN for LAN discovery: every packet one socket sends reaches every socket
 * (its sender too, as multicast loopback does), encoded and decoded with dns-packet as on the
 * wire, from the sender's address. Delivery is a promise job later, so no send re-enters a
 * handler. `inject` sends raw bytes or a crafted packet from anywhere, as an attacker would.
 */
export class FakeLan {
  private readonly members = new Set<{ address: string; handlers: LanSocketHandlers }>()
  /** Every packet sent, decoded, with its sender: what a listener on the LAN sees. */
  readonly sent: { from: string; packet: packet.Packet }[] = []
  opened = 0
  closed = 0

  /** A socket factory for the host at `address`. */
  socketFor(address: string): LanSocketFactory {
    return (_opts, handlers) => {
      const member = { address, handlers }
      this.members.add(member)
      this.opened++
      let open = true
      const socket: LanSocket = {
        ready: Promise.resolve(),
        query: (questions, id) => {
          if (open) this.send(address, { type: 'query', id, questions })
        },
        answer: (answers) => {
          if (open) this.send(address, { type: 'response', id: 0, flags: 1 << 10, answers })
        },
        close: async () => {
          if (!open) return
          open = false
          this.closed++
          this.members.delete(member)
        },
      }
      return socket
    }
  }

  /** Sends a crafted packet (or raw bytes) to every socket, from `address`. */
  inject(from: string, value: packet.Packet | Uint8Array): void {
    const bytes = value instanceof Uint8Array ? value : packet.encode(value)
    this.deliver(from, bytes)
  }

  private send(from: string, value: packet.Packet): void {
    const bytes = packet.encode(value)
    this.sent.push({ from, packet: packet.decode(bytes) })
    this.deliver(from, bytes)
  }

  private deliver(address: string, bytes: Uint8Array): void {
    const from: LanSender = { address, port: 5353 }
    queueMicrotask(() => {
      let decoded: packet.Packet
      try {
        decoded = packet.decode(Buffer.from(bytes))
      } catch {
        for (const m of this.members) m.handlers.malformed()
        return
      }
      for (const m of [...this.members]) {
        if (decoded.type === 'query') m.handlers.query(decoded, from)
        else m.handlers.response(decoded, from)
      }
    })
  }
}

export const SETTINGS: LanSettings = {
  port: 5353,
  interface: undefined,
  queryInterval: 30_000,
  lookupWindow: 1000,
  maxAnswersPerSecond: 10,
  dhtWait: 3000,
}

/** One host's LAN discovery on a FakeLan, with what it dialed and whom it lists as peers. */
export interface LanHost {
  discovery: LanDiscovery
  key: KeyHex
  publicKey: Buffer
  address: string
  dials: LanDialTarget[]
  /** Keys listed as peers: a dial that succeeds lists its key. */
  peers: Set<KeyHex>
}

export interface HostOptions {
  port?: number
  /** What a dial does (default: succeeds, and the key becomes a peer). */
  dial?: (t: LanDialTarget) => Promise<unknown>
  wallNow?: () => number
  settings?: Partial<LanSettings>
}

export function lanHost(
  lan: FakeLan,
  clock: VirtualClock,
  address: string,
  opts: HostOptions = {},
): LanHost {
  const publicKey = crypto.randomBytes(32)
  const dials: LanDialTarget[] = []
  const peers = new Set<KeyHex>()
  const discovery = new LanDiscovery(
    { ...SETTINGS, ...opts.settings },
    {
      clock,
      wallNow: opts.wallNow ?? (() => EPOCH_MS * 1000 + clock.now()),
      openSocket: lan.socketFor(address),
      identity: async () => ({ publicKey, port: opts.port ?? 40_000 }),
      connected: (key) => peers.has(key),
      dial: async (target) => {
        dials.push(target)
        if (opts.dial !== undefined) return opts.dial(target)
        peers.add(bytesToHex(target.publicKey))
        return null
      },
    },
  )
  return { discovery, key: bytesToHex(publicKey), publicKey, address, dials, peers }
}
