import type { TransportInfo } from './transport.js'
import { isThenable } from './util.js'

/** How long the hook may take before the peer is rejected (ms): a deadline of the core. */
export { DEFAULT_AUTHENTICATE_TIMEOUT } from '../core/networker-core.js'

export interface AuthenticateContext extends TransportInfo {
  /** Whether this side dialled the connection. */
  isInitiator: boolean
  /** Topics the swarm found this peer under (empty for connections the remote dialled). */
  topics: Buffer[]
}

/**
 * The user's gate for every connection, incoming and outgoing. Callback form: call
 * `done()` to accept, `done(err)` to reject. Promise form: resolve (to anything but
 * `false`) to accept; reject or resolve to `false` to reject.
 */
export type AuthenticateHook = (
  remotePublicKey: Buffer,
  done: (err?: Error | null) => void,
  context: AuthenticateContext,
) => unknown

/**
 * Runs the hook once and resolves to its verdict. Whatever the hook does (throws or
 * answers twice), the result is one boolean. A hook that never answers leaves it pending:
 * the wait is bounded by the core's authentication deadline, which rejects the connection,
 * and a verdict after it changes nothing.
 */
export function runAuthenticate(
  hook: AuthenticateHook,
  remotePublicKey: Buffer,
  context: AuthenticateContext,
): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    let settled = false
    const finish = (accepted: boolean): void => {
      if (settled) return
      settled = true
      resolve(accepted)
    }
    try {
      const result = hook(
        remotePublicKey,
        (err) => finish(err === undefined || err === null),
        context,
      )
      if (isThenable(result)) {
        result.then(
          (value) => finish(value !== false),
          () => finish(false),
        )
      }
    } catch {
      finish(false)
    }
  })
}
