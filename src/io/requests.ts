import { ErrorCode, NetworkerError, toError } from '../core/errors.js'
import type { KeyHex } from '../core/keys.js'
import type { CloseReport, CoreEffect, RequestId } from '../core/protocol.js'
import type { WaitDeadline } from './replication-barrier.js'

type Settle = Extract<CoreEffect, { type: 'settle' }>

interface Pending {
  resolve(report: CloseReport | undefined | Promise<void>): void
  reject(err: Error): void
  /** A flushing configure's topic: it also waits for the replication barrier of its flush. */
  flush: KeyHex | null
  /** That configure's deadline (its `timeout`), which the barrier's wait keeps to. */
  deadline: WaitDeadline | undefined
}

/** The wait of the topic's latest flush if it still waits (FlushBarriers.wait). */
export type BarrierWait = (topic: KeyHex, deadline?: WaitDeadline) => Promise<void> | undefined

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
const KEEPER: Pending = { resolve: () => {}, reject: () => {}, flush: null, deadline: undefined }

export class PendingRequests {
  private readonly pending = new Map<RequestId, Pending>([[0, KEEPER]])
  private nextRequestId = 1
  /**
   * Flushing configures settled by the event being handled, resolved once its notices ran:
   * the first `flushedCount`. Emptied by count, as an array cut to length 0 gives up its
   * room and makes it again at the next push (every flushing configure).
   */
  private readonly flushed: Pending[] = []
  private flushedCount = 0

  /**
   * The request being opened, for `executor`, which the Promise constructor calls at once:
   * one function for every request, where an executor made per request was a closure and
   * its context on every configure.
   */
  private opening: Pending = KEEPER
  private readonly executor = (
    resolve: (report: CloseReport | undefined) => void,
    reject: (err: Error) => void,
  ): void => {
    this.opening.resolve = resolve as Pending['resolve']
    this.opening.reject = reject
  }

  /** `barrier` is how a flushing configure waits for the replication after its flush. */
  constructor(private readonly barrier: BarrierWait = () => undefined) {}

  /**
   * A new request: its id for the core, and the promise the core's `settle` resolves. A
   * flushing configure gives its topic (and deadline): its promise resolves after the flush's
   * replication barrier as well, with no promise chained onto it for that.
   */
  open(
    flush: KeyHex | null = null,
    deadline?: WaitDeadline,
  ): { requestId: RequestId; settled: Promise<CloseReport | undefined> } {
    const requestId = this.nextRequestId++
    const pending: Pending = { resolve: KEEPER.resolve, reject: KEEPER.reject, flush, deadline }
    this.opening = pending
    const settled = new Promise<CloseReport | undefined>(this.executor)
    this.opening = KEEPER
    this.pending.set(requestId, pending)
    return { requestId, settled }
  }

  /** Carries out the core's `settle` effect (nothing if the caller already gave up). */
  settle(effect: Settle): void {
    const pending = this.pending.get(effect.requestId)
    if (pending === undefined) return
    this.pending.delete(effect.requestId)
    if (effect.error !== undefined) pending.reject(toError(effect.error))
    // The flush's barrier starts with the topic's 'flushed' notice, after the effects of the
    // event that settled it: the configure resolves once that event's notices ran (released).
    else if (pending.flush !== null) this.flushed[this.flushedCount++] = pending
    else pending.resolve(effect.report)
  }

  /**
   * The event that settled flushing configures has run its notices: each resolves now, or
   * once the replication barrier of its topic's flush, if that still waits.
   */
  released(): void {
    const count = this.flushedCount
    if (count === 0) return
    this.flushedCount = 0
    for (let i = 0; i < count; i++) {
      const { resolve, flush, deadline } = this.flushed[i] as Pending
      // The slot keeps nothing of the request (KEEPER holds nothing, and keeps the array packed).
      this.flushed[i] = KEEPER
      resolve(this.barrier(flush as KeyHex, deadline))
    }
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
