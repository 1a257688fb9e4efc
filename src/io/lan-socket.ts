import makeMdns from 'multicast-dns'

/*
 * The one mDNS socket of a networker with LAN discovery: multicast-dns bound to the mDNS port,
 * reduced to what discovery needs (send a query, send an answer, hear both) so the rest is
 * tested with crafted packets and no network. Received packets are untrusted: they reach the
 * handlers as multicast-dns decoded them, and nothing here reads their contents.
 */

/** The standard mDNS group and port. */
export const MDNS_GROUP = '224.0.0.251'
export const MDNS_PORT = 5353

export interface LanQuestion {
  name: string
  type: 'TXT'
}

export interface LanTxtRecord {
  name: string
  type: 'TXT'
  ttl: number
  data: string[]
}

/** Where a packet came from. */
export interface LanSender {
  address: string
  port: number
}

export interface LanSocketHandlers {
  /** A decoded query packet (its `questions` unchecked). */
  query(packet: unknown, from: LanSender): void
  /** A decoded response packet (its `answers` and `additionals` unchecked). */
  response(packet: unknown, from: LanSender): void
  /** A datagram that did not decode as DNS. */
  malformed(): void
  /** The socket could not be bound (port taken without SO_REUSEADDR, no permission). */
  failed(err: Error): void
}

/** What discovery does with the socket. */
export interface LanSocket {
  /** Resolves once bound (or failed: `failed` has been told). */
  readonly ready: Promise<void>
  query(questions: LanQuestion[], id: number): void
  answer(answers: LanTxtRecord[]): void
  close(): Promise<void>
}

export interface LanSocketOptions {
  /** The mDNS port (another one makes a private group: tests run on one). */
  port: number
  /** The IPv4 address of the interface to use; undefined: every interface. */
  interface: string | undefined
}

export type LanSocketFactory = (opts: LanSocketOptions, handlers: LanSocketHandlers) => LanSocket

/** The real socket: multicast-dns on the mDNS group. */
export const openMdnsSocket: LanSocketFactory = (opts, handlers) => {
  const mdns = makeMdns({
    port: opts.port,
    ip: MDNS_GROUP,
    // Always bound to every address: a socket bound to the interface's unicast address does
    // not receive what is sent to the group. The interface picks where memberships and sends go.
    bind: '0.0.0.0',
    ...(opts.interface === undefined ? {} : { interface: opts.interface }),
    // Other mDNS responders on the host (Avahi, Bonjour) hold the port too.
    reuseAddr: true,
    // Our own packets come back to us; they are recognised (our key, our query ids), and other
    // networkers on this host need them.
    loopback: true,
  })
  let closed = false
  const ready = new Promise<void>((resolve) => {
    mdns.once('ready', () => resolve())
    mdns.on('error', (err: Error) => {
      // Bind errors ('EADDRINUSE', 'EACCES'); after one the socket is useless.
      if (!closed) handlers.failed(err)
      resolve()
    })
  })
  mdns.on('warning', (err: Error & { syscall?: unknown }) => {
    // multicast-dns reports a datagram it cannot decode and a failed membership (an
    // interface without multicast) alike as a warning; only the first is someone's packet.
    if (err.syscall === undefined) handlers.malformed()
  })
  mdns.on('query', (packet, rinfo) => handlers.query(packet, senderOf(rinfo)))
  mdns.on('response', (packet, rinfo) => handlers.response(packet, senderOf(rinfo)))
  return {
    ready,
    query: (questions, id) => {
      if (!closed) mdns.query({ id, questions }, ignoreSendError)
    },
    answer: (answers) => {
      if (!closed) mdns.respond({ answers }, ignoreSendError)
    },
    close: () =>
      new Promise((resolve) => {
        if (closed) return resolve()
        closed = true
        mdns.destroy(() => resolve())
      }),
  }
}

function senderOf(rinfo: { address: string; port: number }): LanSender {
  return { address: rinfo.address, port: rinfo.port }
}

/**
 * A send that failed (no route to the group, the interface went away) loses one datagram,
 * which the next query or answer makes good; nothing to report per packet.
 */
function ignoreSendError(): void {}
