import { describe, expect, it } from 'vitest'
import { NetworkerCore } from '../../src/core/networker-core.js'
import type { CoreEffect } from '../../src/core/protocol.js'

const LOCAL = 'aa'.repeat(32)
const T1 = '01'.repeat(32)
const T2 = '02'.repeat(32)
const R1 = 'b1'.repeat(32)
const R2 = 'b2'.repeat(32)
const closedError = {
  code: 'NETWORKER_CLOSED',
  message: 'the networker closed before this configure completed',
}

const types = (effects: CoreEffect[]) => effects.map((e) => e.type)

function openCore() {
  const c = new NetworkerCore({ localKey: LOCAL, authenticate: false })
  // T1 joined and flushed, T2 still joining; R1 and R2 connected.
  c.handle({
    type: 'configure',
    requestId: 1,
    topic: T1,
    announce: true,
    lookup: true,
    flush: false,
  })
  c.handle({ type: 'topic-joined', topic: T1, op: 1 })
  c.handle({
    type: 'configure',
    requestId: 2,
    topic: T2,
    announce: true,
    lookup: false,
    flush: true,
  })
  c.handle({ type: 'connection-opened', connectionId: 1, remoteKey: R1, isInitiator: true })
  c.handle({ type: 'connection-opened', connectionId: 2, remoteKey: R2, isInitiator: false })
  return c
}

describe('closing the networker', () => {
  it('settles pending configures, leaves topics, drops connections, then destroys the swarm', () => {
    const c = openCore()
    const effects = c.handle({ type: 'close', requestId: 10 })
    expect(effects).toContainEqual({ type: 'settle', requestId: 2, error: closedError })
    expect(effects).toContainEqual({ type: 'leave-topic', topic: T1, op: 2 })
    expect(effects).toContainEqual({ type: 'leave-topic', topic: T2, op: 2 })
    expect(effects).toContainEqual({
      type: 'drop-connection',
      connectionId: 1,
      remoteKey: R1,
      reason: 'closing',
    })
    expect(effects).toContainEqual({
      type: 'drop-connection',
      connectionId: 2,
      remoteKey: R2,
      reason: 'closing',
    })
    expect(types(effects)).not.toContain('destroy-swarm')
    expect(c.lifeState).toBe('closing')

    // Peers stay listed until their connections have really closed.
    expect(c.peers().length).toBe(2)
    expect(c.handle({ type: 'topic-left', topic: T1, op: 2 })).toEqual([])
    expect(c.handle({ type: 'connection-closed', connectionId: 1 })).toEqual([
      { type: 'peer-remove', connectionId: 1, remoteKey: R1 },
    ])
    expect(c.handle({ type: 'topic-left', topic: T2, op: 2 })).toEqual([])
    expect(c.handle({ type: 'connection-closed', connectionId: 2 })).toEqual([
      { type: 'peer-remove', connectionId: 2, remoteKey: R2 },
      { type: 'destroy-swarm' },
    ])
    expect(c.lifeState).toBe('destroying')
    const second = c.handle({ type: 'close', requestId: 11 })
    expect(second).toEqual([])
    expect(c.handle({ type: 'swarm-destroyed' })).toEqual([
      { type: 'settle', requestId: 10, report: { unannounced: [], forced: false } },
      { type: 'settle', requestId: 11, report: { unannounced: [], forced: false } },
    ])
    expect(c.lifeState).toBe('closed')
    expect(c.pendingTimers).toBe(0)
    // Idempotent, and nothing works after close.
    expect(c.handle({ type: 'close', requestId: 12 })).toEqual([
      { type: 'settle', requestId: 12, report: { unannounced: [], forced: false } },
    ])
    expect(
      c.handle({
        type: 'configure',
        requestId: 13,
        topic: T1,
        announce: true,
        lookup: true,
        flush: true,
      }),
    ).toEqual([
      {
        type: 'settle',
        requestId: 13,
        error: { code: 'NETWORKER_CLOSED', message: 'the networker is closed' },
      },
    ])
    expect(
      c.handle({ type: 'connection-opened', connectionId: 3, remoteKey: R1, isInitiator: true }),
    ).toEqual([{ type: 'drop-connection', connectionId: 3, remoteKey: R1, reason: 'closing' }])
  })

  it('reports topics whose leave failed', () => {
    const c = openCore()
    c.handle({ type: 'close', requestId: 10 })
    c.handle({ type: 'topic-left', topic: T1, op: 2 })
    c.handle({
      type: 'topic-leave-failed',
      topic: T2,
      op: 2,
      error: { code: 'TOPIC_LEAVE_FAILED', message: 'x' },
    })
    c.handle({ type: 'connection-closed', connectionId: 1 })
    c.handle({ type: 'connection-closed', connectionId: 2 })
    expect(c.handle({ type: 'swarm-destroyed' })).toEqual([
      { type: 'settle', requestId: 10, report: { unannounced: [T2], forced: false } },
    ])
  })

  it('finishes at the deadline whatever still hangs, and says what', () => {
    const c = openCore()
    c.handle({ type: 'close', requestId: 10 })
    c.handle({ type: 'topic-left', topic: T1, op: 2 })
    // T2's leave and R2's close never come.
    c.handle({ type: 'connection-closed', connectionId: 1 })
    const forced = c.handle({ type: 'close-timeout' })
    expect(forced).toEqual([
      { type: 'drop-connection', connectionId: 2, remoteKey: R2, reason: 'closing' },
      { type: 'peer-remove', connectionId: 2, remoteKey: R2 },
      { type: 'destroy-swarm' },
      { type: 'settle', requestId: 10, report: { unannounced: [T2], forced: true } },
    ])
    expect(c.lifeState).toBe('closed')
    expect(c.peers()).toEqual([])
    expect(c.pendingTimers).toBe(0)
    // Late results change nothing.
    expect(c.handle({ type: 'topic-left', topic: T2, op: 2 })).toEqual([])
    expect(c.handle({ type: 'swarm-destroyed' })).toEqual([])
  })

  it('a deadline while the swarm is being destroyed settles without destroying twice', () => {
    const c = new NetworkerCore({ localKey: LOCAL, authenticate: false })
    expect(c.handle({ type: 'close', requestId: 1 })).toEqual([{ type: 'destroy-swarm' }])
    expect(c.handle({ type: 'close-timeout' })).toEqual([
      { type: 'settle', requestId: 1, report: { unannounced: [], forced: true } },
    ])
  })

  it('drops connections still being authenticated, which settles flushes waiting on them', () => {
    const c = new NetworkerCore({ localKey: LOCAL, authenticate: true })
    c.handle({
      type: 'configure',
      requestId: 1,
      topic: T1,
      announce: true,
      lookup: true,
      flush: true,
    })
    c.handle({ type: 'topic-joined', topic: T1, op: 1 })
    c.handle({ type: 'connection-opened', connectionId: 5, remoteKey: R1, isInitiator: true })
    c.handle({ type: 'swarm-flushed', topic: T1, op: 2 })
    const effects = c.handle({ type: 'close', requestId: 2 })
    expect(effects).toContainEqual({ type: 'settle', requestId: 1, error: closedError })
    expect(effects).toContainEqual({
      type: 'drop-connection',
      connectionId: 5,
      remoteKey: R1,
      reason: 'closing',
    })
    expect(c.pendingConnections()).toEqual([])
    // A late verdict for it is ignored.
    expect(c.handle({ type: 'connection-authenticated', connectionId: 5, accepted: true })).toEqual(
      [],
    )
  })

  it('ignores a connection to itself', () => {
    const c = new NetworkerCore({ localKey: LOCAL, authenticate: false })
    expect(
      c.handle({ type: 'connection-opened', connectionId: 1, remoteKey: LOCAL, isInitiator: true }),
    ).toEqual([{ type: 'drop-connection', connectionId: 1, remoteKey: LOCAL, reason: 'closing' }])
    expect(c.peers()).toEqual([])
  })
})

describe('peer events', () => {
  it('alternate per remote key through connects, duplicates and closes', () => {
    const c = new NetworkerCore({ localKey: LOCAL, authenticate: false })
    const log: string[] = []
    const run = (effects: CoreEffect[]) => {
      for (const e of effects)
        if (e.type === 'peer-add' || e.type === 'peer-remove')
          log.push(`${e.type}:${e.connectionId}`)
    }
    run(c.handle({ type: 'connection-opened', connectionId: 1, remoteKey: R1, isInitiator: true }))
    run(c.handle({ type: 'connection-data', connectionId: 1 }))
    // A reconnect while 1 is active: held, then swapped in once it carries data.
    run(c.handle({ type: 'connection-opened', connectionId: 2, remoteKey: R1, isInitiator: false }))
    run(c.handle({ type: 'connection-data', connectionId: 2 }))
    run(c.handle({ type: 'connection-closed', connectionId: 1 }))
    run(c.handle({ type: 'connection-closed', connectionId: 2 }))
    run(c.handle({ type: 'connection-opened', connectionId: 3, remoteKey: R1, isInitiator: true }))
    expect(log).toEqual([
      'peer-add:1',
      'peer-remove:1',
      'peer-add:2',
      'peer-remove:2',
      'peer-add:3',
    ])
  })
})
