import { ErrorCode, NetworkerError, toError } from '../core/errors.js'
import type { CloseReport, CoreEffect, RequestId } from '../core/protocol.js'
import type { DriverClock } from './core-driver.js'

type Settle = Extract<CoreEffect, { type: 'settle' }>

interface Pending {
  resolve(report: CloseReport | undefined): void
  reject(err: Error): void
}

/**
 * The calls waiting on the core — each configure and the close — by request id. The core
 * settles a request with a `settle` effect; a caller may stop waiting sooner, with an
 * AbortSignal or a timeout, and the deadlines for both (configure's `timeout`, close's
 * `timeout`) are set here. Giving up on a wait never undoes what the request started.
 */
export class PendingRequests {
  private readonly pending = new Map<RequestId, Pending>()
  private nextRequestId = 1

  constructor(private readonly clock: DriverClock) {}

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
   * abort (ABORTED) or after `timeout` ms (FLUSH_TIMEOUT). The request itself goes on in
   * the core (a configuration stays applied); only this promise gives up on it.
   */
  bounded(
    requestId: RequestId,
    done: Promise<unknown>,
    signal: AbortSignal | undefined,
    timeout: number | undefined,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let timer: unknown = null
      const cleanup = (): void => {
        if (timer !== null) this.clock.clearTimeout(timer)
        signal?.removeEventListener('abort', onabort)
      }
      const giveUp = (err: NetworkerError): void => {
        if (!this.pending.delete(requestId)) return
        cleanup()
        reject(err)
      }
      const onabort = (): void =>
        giveUp(new NetworkerError(ErrorCode.ABORTED, 'configure was aborted before it completed'))
      signal?.addEventListener('abort', onabort, { once: true })
      if (timeout !== undefined) {
        timer = this.clock.setTimeout(
          () =>
            giveUp(
              new NetworkerError(
                ErrorCode.FLUSH_TIMEOUT,
                `configure did not finish joining and flushing within ${timeout} ms`,
              ),
            ),
          timeout,
        )
      }
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

  /**
   * close({ timeout })'s deadline: `expire` runs after `timeout` ms unless `closed` settles
   * first (the close is then cut short: the core finishes at once, reporting `forced`).
   */
  closeDeadline(timeout: number, closed: Promise<unknown>, expire: () => void): void {
    const timer = this.clock.setTimeout(expire, timeout)
    const clear = (): void => this.clock.clearTimeout(timer)
    closed.then(clear, clear)
  }
}
