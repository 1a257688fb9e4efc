import type { Clock } from '../core/clock.js'
import type { NetworkerCore } from '../core/networker-core.js'
import type { CoreEffect, CoreEvent, TopicNotice } from '../core/protocol.js'

/** The one time shape (core/clock.ts), under the name the I/O modules know it by. */
export type DriverClock = Clock

export const realClock: DriverClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms)
    t.unref()
    return t
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
}

export interface DriverHooks {
  /** Carries out one effect. */
  run(effect: CoreEffect): void
  /** Hears what changed in a topic, after the effects of the same event ran. */
  notice?(notice: TopicNotice): void
  /** The event's effects and notices all ran. */
  handled?(): void
}

/**
 * Feeds events to the core one at a time (events raised while effects run are queued,
 * never nested), hands the effects to `run`, and arms one timer for the core's next
 * deadline.
 */
export class CoreDriver {
  private readonly queue: CoreEvent[] = []
  private running = false
  private timer: unknown = null
  private timerAt: number | null = null

  constructor(
    private readonly core: NetworkerCore,
    private readonly clock: DriverClock,
    private readonly hooks: DriverHooks,
  ) {}

  dispatch(event: CoreEvent): void {
    this.queue.push(event)
    if (this.running) return
    this.running = true
    try {
      // Index loops: for...of here made an iterator and a result object per effect and event.
      for (let next = this.queue.shift(); next !== undefined; next = this.queue.shift()) {
        const effects = this.core.handle(next, this.clock.now())
        for (let i = 0; i < effects.length; i++) this.hooks.run(effects[i] as CoreEffect)
        const notices = this.core.takeNotices()
        for (let i = 0; i < notices.length; i++) this.hooks.notice?.(notices[i] as TopicNotice)
        this.hooks.handled?.()
      }
    } finally {
      this.running = false
    }
    this.arm()
  }

  stop(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer)
    this.timer = null
    this.timerAt = null
  }

  private arm(): void {
    const at = this.core.nextDeadline()
    if (at === this.timerAt) return
    this.stop()
    if (at === null) return
    this.timerAt = at
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = null
        this.timerAt = null
        this.dispatch({ type: 'tick' })
      },
      Math.max(0, at - this.clock.now()),
    )
  }
}
