import { createServer, type Server, type Socket } from 'node:net'
import { ErrorCode, NetworkerError } from '../core/errors.js'
import type { NetworkerPeer } from './peer.js'
import type { SwarmConnection } from './swarm.js'
import type { TcpListenAddress } from './tcp-options.js'
import { socketAddress } from './transport.js'
import { messageOf, noop } from './util.js'

/** Most sockets in their Noise handshake at once, from anyone. */
export const DEFAULT_MAX_PENDING_HANDSHAKES = 64
/** Most sockets in their Noise handshake at once from one remote address. */
export const DEFAULT_MAX_PENDING_HANDSHAKES_PER_HOST = 8
/**
 * Most bytes a socket may send before its handshake is done. Noise XX's messages are a few
 * hundred bytes, and what an initiator sends right after its own end opens (channel opens,
 * first requests) is small; secret-stream itself would buffer a frame of up to 16 MiB, so
 * without this cap the unfinished handshakes could hold 64 × 16 MiB.
 */
export const MAX_HANDSHAKE_BYTES = 1024 * 1024

export interface TcpListenerHooks {
  maxPending: number
  maxPendingPerHost: number
  /** Noise over the socket as the responder (the adopter's first half, bounded in time). */
  secure(socket: Socket): Promise<SwarmConnection>
  /** Accepts the open connection as any other (the adopter's second half). */
  admit(conn: SwarmConnection): Promise<NetworkerPeer>
  /** A socket over a limit was closed at once. */
  refused(): void
  /** An incoming socket failed before it became a connection: told with a coded error. */
  failed(err: NetworkerError, remoteAddress: string | null): void
}

/**
 * Accepts direct TCP connections: each socket becomes a responder Noise secret stream, and
 * once its handshake is done, a connection like the swarm's. What a remote can cost us before
 * it proves it holds a Noise key is bounded here: unfinished handshakes are capped overall and
 * per remote address (a socket past a cap is closed at once and counted), each is bounded in
 * time by the handshake timeout, and bytes that are not Noise end it (HANDSHAKE_FAILED). A
 * flood from one address therefore leaves room for everyone else.
 */
export class TcpListener {
  private server: Server | null = null
  private bound: TcpListenAddress | null = null
  /** Sockets in their handshake, and how many of them each remote address holds. */
  private readonly pending = new Set<Socket>()
  private readonly perHost = new Map<string, number>()
  private closed = false

  constructor(private readonly hooks: TcpListenerHooks) {}

  /** The bound address, once listening. */
  get address(): TcpListenAddress | null {
    return this.bound
  }

  /** Sockets whose handshake is under way. */
  get pendingSockets(): number {
    return this.pending.size
  }

  /** Binds and listens; resolves to the bound address (the port picked, for port 0). */
  listen(at: TcpListenAddress): Promise<TcpListenAddress> {
    if (this.bound !== null) return Promise.resolve(this.bound)
    if (this.server !== null || this.closed) {
      return Promise.reject(
        new NetworkerError(ErrorCode.LISTEN_FAILED, 'the TCP listener is closed or binding'),
      )
    }
    const server = createServer({ noDelay: true }, (socket) => this.incoming(socket))
    this.server = server
    return new Promise((resolve, reject) => {
      const onerror = (err: Error): void => {
        this.server = null
        reject(
          new NetworkerError(
            ErrorCode.LISTEN_FAILED,
            `cannot listen on TCP ${at.host}:${at.port}: ${messageOf(err)}`,
            { cause: err },
          ),
        )
      }
      server.once('error', onerror)
      server.listen(at.port, at.host, () => {
        server.removeListener('error', onerror)
        // Errors of an accepting server (EMFILE, say) are the kernel's to retry; never thrown.
        server.on('error', noop)
        const info = server.address()
        this.bound =
          info !== null && typeof info === 'object'
            ? { host: info.address, port: info.port }
            : { host: at.host, port: at.port }
        if (this.closed) server.close()
        resolve(this.bound)
      })
    })
  }

  /**
   * Stops listening (the port is free at once) and closes every socket still in its
   * handshake. Sockets that became connections are the connection table's: the core closes
   * them with the networker.
   */
  close(): void {
    this.closed = true
    for (const socket of [...this.pending]) socket.destroy()
    const server = this.server
    this.server = null
    this.bound = null
    if (server?.listening === true) server.close()
  }

  private incoming(socket: Socket): void {
    socket.on('error', noop)
    if (this.closed) {
      socket.destroy()
      return
    }
    const host = socket.remoteAddress ?? '?'
    const fromHost = this.perHost.get(host) ?? 0
    if (this.pending.size >= this.hooks.maxPending || fromHost >= this.hooks.maxPendingPerHost) {
      socket.destroy()
      this.hooks.refused()
      const which = fromHost >= this.hooks.maxPendingPerHost ? `from ${host} ` : ''
      this.hooks.failed(
        new NetworkerError(
          ErrorCode.HANDSHAKE_LIMIT,
          `too many unfinished handshakes ${which}(a TCP connection was closed at once)`,
        ),
        socketAddress(socket),
      )
      return
    }
    const remoteAddress = socketAddress(socket)
    this.pending.add(socket)
    this.perHost.set(host, fromHost + 1)
    let done = false
    const release = (): void => {
      if (done) return
      done = true
      this.pending.delete(socket)
      const left = (this.perHost.get(host) ?? 1) - 1
      if (left > 0) this.perHost.set(host, left)
      else this.perHost.delete(host)
    }
    // However the handshake ends, the socket stops counting against the caps once it closes.
    socket.once('close', release)
    capUntilOpen(socket, () => done)
    this.hooks.secure(socket).then(
      (conn) => {
        release()
        // Its fate is the core's now (kept, dropped as a duplicate, rejected): nobody waits.
        this.hooks.admit(conn).catch(noop)
      },
      (err: unknown) => {
        release()
        if (err instanceof NetworkerError && err.code !== ErrorCode.NETWORKER_CLOSED) {
          this.hooks.failed(err, remoteAddress)
        }
      },
    )
  }
}

/**
 * Destroys the socket once it has sent more than MAX_HANDSHAKE_BYTES while `opened()` is
 * false (the bytes end the handshake with HANDSHAKE_FAILED). The count listens to 'data' only
 * once secret-stream reads the socket: a 'data' listener of ours added earlier would set the
 * socket flowing and lose what came before secret-stream listened.
 */
function capUntilOpen(socket: Socket, opened: () => boolean): void {
  let received = 0
  const count = (chunk: Buffer): void => {
    if (opened()) {
      socket.removeListener('data', count)
      return
    }
    received += chunk.byteLength
    if (received > MAX_HANDSHAKE_BYTES) {
      socket.removeListener('data', count)
      socket.destroy(new Error(`more than ${MAX_HANDSHAKE_BYTES} bytes before the handshake ended`))
    }
  }
  const onlistener = (event: string | symbol): void => {
    if (event !== 'data') return
    socket.removeListener('newListener', onlistener)
    // Data comes in later turns of the event loop: a microtask is in time for all of it.
    queueMicrotask(() => {
      if (!opened() && !socket.destroyed) socket.on('data', count)
    })
  }
  socket.on('newListener', onlistener)
}
