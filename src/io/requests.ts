import { ErrorCode, NetworkerError, toError } from '../core/errors.js'
import type { CloseReport, CoreEffect, RequestId } from '../core/protocol.js'

type Settle = Extract<CoreEffect, { type: 'settle' }>

interface Pending {
  resolve(report: CloseReport | undefined): void
  reject(err: Error): void
}

/**
 * The calls waiting on the core — each configure and the close — by request id. The core
 * settles a request with a `settle` effect — at the deadline of a configure's or a close's
 * `timeout` too, which are the core's — and a caller may stop waiting sooner with an
 * AbortSignal. Giving up on a wait never undoes what the request started.
 */
/**
 * Never settled: held under id 0 (no request's) so that the map of requests never empties. A
 * map that empties gives up its table on the delete that empties it and makes a new one on
 * the next set: one configure at a time did that on every configure.
 */
const KEEPER: Pending = { resolve: () => {}, reject: () => {} }

export class PendingRequests {
  private readonly pending = new Map<RequestId, Pending>([[0, KEEPER]])
  private nextRequestId = 1

  /** A new request: its id for the core, and the promise the core's `settle` resolves. */
  open(): { requestId: RequestId; settled: Promise<CloseReport | undefined> } {
    const requestId = this.nextRequestId++
    const settled = new Promise<CloseReport | undefined>((resolve, reject) => {
      this.pending.set(requestId, { resolve, reject })
    })
    return { requestId, settled }
  }

  /** Carries out the core's `settle` effect (nothing if the caller already gave up). */
  settle(effect: Settle): void {
    const pending = this.pending.get(effect.requestId)
    if (pending === undefined) return
    this.pending.delete(effect.requestId)
    if (effect.error === undefined) pending.resolve(effect.report)
    else pending.reject(toError(effect.error))
  }

  /**
   * Waits for `done` (a configure's request and what follows it), but stops waiting on
   * abort (ABORTED). The request itself goes on in the core (a configuration stays
   * applied); only this promise gives up on it. A timeout is the core's deadline, not a
   * timer here.
   */
  bounded(requestId: RequestId, done: Promise<unknown>, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const cleanup = (): void => signal.removeEventListener('abort', onabort)
      const onabort = (): void => {
        if (!this.pending.delete(requestId)) return
        cleanup()
        reject(new NetworkerError(ErrorCode.ABORTED, 'configure was aborted before it completed'))
      }
      signal.addEventListener('abort', onabort, { once: true })
      done.then(
        () => {
          cleanup()
          resolve()
        },
        (err: unknown) => {
          cleanup()
          reject(err)
        },
      )
    })
  }
}
