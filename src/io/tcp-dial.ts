import { connect, type Socket } from 'node:net'
import type { Clock } from '../core/clock.js'
import { ErrorCode, NetworkerError } from '../core/errors.js'
import type { TcpTarget } from './tcp-options.js'
import { messageOf } from './util.js'

/**
 * Opens a TCP socket to a target, bounded in time: resolves once connected, rejects with
 * DIAL_FAILED if it is refused, unreachable, or not connected within `timeout` ms. The Noise
 * handshake over it is the adopter's. `sockets` holds it while it connects, so a closing
 * networker can destroy it.
 */
export function dialTcp(
  target: TcpTarget,
  opts: { clock: Clock; timeout: number; sockets: Set<Socket> },
): Promise<Socket> {
  const { clock, timeout, sockets } = opts
  return new Promise<Socket>((resolve, reject) => {
    const socket = connect({ host: target.host, port: target.port, noDelay: true })
    sockets.add(socket)
    const where = `${target.host}:${target.port}`
    const settle = (err: NetworkerError | null): void => {
      clock.clearTimeout(timer)
      sockets.delete(socket)
      socket.removeListener('connect', onconnect)
      socket.removeListener('close', onclose)
      if (err === null) {
        resolve(socket)
        return
      }
      socket.destroy()
      reject(err)
    }
    let error: unknown = null
    const onconnect = (): void => settle(null)
    const onclose = (): void =>
      settle(
        new NetworkerError(
          ErrorCode.DIAL_FAILED,
          `cannot connect to ${where}: ${error === null ? 'closed' : messageOf(error)}`,
          { cause: error },
        ),
      )
    const timer = clock.setTimeout(
      () =>
        settle(
          new NetworkerError(
            ErrorCode.DIAL_FAILED,
            `cannot connect to ${where}: no answer within ${timeout} ms`,
          ),
        ),
      timeout,
    )
    socket.on('error', (err) => {
      error ??= err
    })
    socket.once('connect', onconnect)
    socket.once('close', onclose)
  })
}
