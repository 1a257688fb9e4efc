import { describe, expect, it } from 'vitest'
import { VirtualClock } from '../../sim/virtual-clock.js'
import { NetworkerCore } from '../../src/core/networker-core.js'
import { CoreDriver } from '../../src/io/core-driver.js'

/*
 * The core driver (core-driver.ts): each event's effects run, then its notices, then the
 * `handled` hook, before the next event queued meanwhile is handled.
 */
const TOPIC = 'ef'.repeat(32)

describe('the core driver', () => {
  it('calls handled after each event’s effects and notices, events queued meanwhile after', () => {
    const core = new NetworkerCore({ localKey: null, authenticate: false })
    const log: string[] = []
    const driver: CoreDriver = new CoreDriver(core, new VirtualClock(), {
      run: (effect) => {
        log.push(`run ${effect.type}`)
        // Raised while effects run: queued, handled after this event's hooks.
        if (effect.type === 'join-topic') {
          driver.dispatch({ type: 'topic-joined', topic: TOPIC, op: effect.op })
        }
      },
      notice: (notice) => log.push(`notice ${notice.type}`),
      handled: () => log.push('handled'),
    })
    driver.dispatch({
      type: 'configure',
      requestId: 1,
      topic: TOPIC,
      announce: true,
      lookup: false,
      flush: false,
    })
    expect(log).toEqual(['run join-topic', 'handled', 'run settle', 'notice joined', 'handled'])
  })
})
