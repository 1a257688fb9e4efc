import { EventEmitter } from 'node:events'
import { describe, expect, it } from 'vitest'
import { VirtualClock } from '../../sim/virtual-clock.js'
import type { SwarmConnection } from '../../src/index.js'
import { LivenessMonitor } from '../../src/io/liveness.js'

/*
 * The liveness monitor (liveness.ts) on virtual time, with connection stand-ins whose
 * counters the test moves: each connection is judged on its own readings, also when slots
 * of connections gone are reused by new ones.
 */

interface FakeConn {
  conn: SwarmConnection
  /** Bytes arrived. */
  hear(): void
  keepAlives: number
}

function fake(keepAlive?: number): FakeConn {
  const state = { rawBytesRead: 0, rawBytesWritten: 0, destroyed: false, keepAlive }
  const emitter = Object.assign(new EventEmitter(), state)
  const f: FakeConn = {
    conn: emitter as unknown as SwarmConnection,
    hear: () => {
      emitter.rawBytesRead++
    },
    keepAlives: 0,
  }
  Object.assign(emitter, {
    sendKeepAlive: () => {
      f.keepAlives++
      emitter.rawBytesWritten++
    },
  })
  return f
}

function monitor(timeout = 10_000) {
  const clock = new VirtualClock()
  const dead: { conn: SwarmConnection; at: number }[] = []
  const m = new LivenessMonitor({
    clock,
    timeout,
    dead: (conn) => dead.push({ conn, at: clock.now() }),
  })
  return { clock, dead, m }
}

describe('LivenessMonitor', () => {
  it('drops a silent connection within the bound and keeps one that is heard from', async () => {
    const { clock, dead, m } = monitor()
    const silent = fake()
    const talking = fake()
    m.watch(silent.conn)
    m.watch(talking.conn)
    for (let t = 500; t <= 12_000; t += 500) {
      await clock.runUntil(t)
      talking.hear()
    }
    expect(dead.map((d) => d.conn)).toEqual([silent.conn])
    expect(dead[0]!.at).toBeGreaterThanOrEqual(9000)
    expect(dead[0]!.at).toBeLessThanOrEqual(10_000)
    expect(m.size).toBe(1)
    // Ours keep-alives go out every half bound on a stream without its own.
    expect(talking.keepAlives).toBeGreaterThanOrEqual(2)
    m.clear()
  })

  it('sends no keep-alives on a stream whose own are frequent enough', async () => {
    const { clock, m } = monitor()
    const own = fake(5000)
    m.watch(own.conn)
    for (let t = 500; t <= 12_000; t += 500) {
      await clock.runUntil(t)
      own.hear()
    }
    expect(own.keepAlives).toBe(0)
    m.clear()
  })

  it('judges each connection on its own readings while slots are freed and reused', async () => {
    const { clock, dead, m } = monitor()
    const live: FakeConn[] = []
    // Churn: every 200 ms one connection goes and four come (past the first 64 slots); all
    // of them are heard from.
    for (let t = 200; t <= 6000; t += 200) {
      const gone = live.shift()
      if (gone !== undefined) m.unwatch(gone.conn)
      for (let i = 0; i < 4; i++) {
        const f = fake()
        m.watch(f.conn)
        live.push(f)
      }
      for (const f of live) f.hear()
      await clock.runUntil(t)
    }
    expect(dead).toEqual([])
    expect(m.size).toBe(live.length)
    // From now on only the even ones are heard from: exactly the odd ones are dropped.
    for (let t = 6500; t <= 20_000; t += 500) {
      live.forEach((f, i) => {
        if (i % 2 === 0) f.hear()
      })
      await clock.runUntil(t)
    }
    const odd = live.filter((_, i) => i % 2 === 1).map((f) => f.conn)
    expect(new Set(dead.map((d) => d.conn))).toEqual(new Set(odd))
    expect(dead.length).toBe(odd.length)
    for (const f of live) m.unwatch(f.conn)
    expect(m.size).toBe(0)
    expect(clock.pending).toBe(0)
  })

  it('a look that drops one connection and watches or unwatches others meanwhile judges each on its own readings', async () => {
    const clock = new VirtualClock()
    const dead: SwarmConnection[] = []
    const a = fake()
    const b = fake()
    const replacement = fake()
    const m: LivenessMonitor = new LivenessMonitor({
      clock,
      timeout: 10_000,
      // The first silent connection's drop unwatches the other one (before the look reaches
      // it) and watches a new one (which the same look then visits).
      dead: (conn) => {
        dead.push(conn)
        if (conn === a.conn) {
          m.unwatch(b.conn)
          m.watch(replacement.conn)
        }
      },
    })
    m.watch(a.conn)
    m.watch(b.conn)
    await clock.runUntil(10_000)
    // b was silent too, but unwatched before its turn: only a is dropped; the new one, just
    // watched, is not due.
    expect(dead).toEqual([a.conn])
    expect(m.size).toBe(1)
    // Heard from, the new one stays; silent from then on, it is dropped within its own bound.
    for (let t = 10_500; t <= 15_000; t += 500) {
      await clock.runUntil(t)
      replacement.hear()
    }
    expect(dead).toEqual([a.conn])
    await clock.runUntil(26_000)
    expect(dead).toEqual([a.conn, replacement.conn])
    expect(m.size).toBe(0)
    expect(clock.pending).toBe(0)
  })
})
