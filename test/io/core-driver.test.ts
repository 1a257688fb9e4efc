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

  it('keeps the events queued behind one whose effect threw, and handles them first at the next dispatch', () => {
    const core = new NetworkerCore({ localKey: null, authenticate: false })
    const log: string[] = []
    const other = 'ab'.repeat(32)
    let throwOnce = true
    const configure = (topic: string, requestId: number) =>
      ({
        type: 'configure',
        requestId,
        topic,
        announce: true,
        lookup: false,
        flush: false,
      }) as const
    const driver: CoreDriver = new CoreDriver(core, new VirtualClock(), {
      run: (effect) => {
        log.push(`run ${effect.type} ${'topic' in effect ? effect.topic.slice(0, 2) : ''}`)
        if (effect.type === 'join-topic' && effect.topic === TOPIC) {
          // Queued behind the event being handled, which then throws.
          driver.dispatch({ type: 'topic-joined', topic: TOPIC, op: effect.op })
          if (throwOnce) {
            throwOnce = false
            throw new Error('effect failed')
          }
        }
      },
    })
    expect(() => driver.dispatch(configure(TOPIC, 1))).toThrow(Error)
    expect(log).toEqual(['run join-topic ef'])
    // The queued topic-joined is handled before the new configure, each once.
    driver.dispatch(configure(other, 2))
    expect(log).toEqual(['run join-topic ef', 'run settle ', 'run join-topic ab'])
    expect(core.status(TOPIC)?.joined).toBe(true)
    // Drained: the next event is handled at once, and alone.
    driver.dispatch({ type: 'topic-joined', topic: other, op: 1 })
    expect(log.slice(3)).toEqual(['run settle '])
    expect(core.status(other)?.joined).toBe(true)
  })
})
