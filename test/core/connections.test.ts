import { describe, expect, it } from 'vitest'
import { keepNewConnection } from '../../src/core/dedup-rule.js'
import { ErrorCode } from '../../src/core/errors.js'
import { type CoreOptions, NetworkerCore } from '../../src/core/networker-core.js'
import type { CoreEffect, CoreEvent } from '../../src/core/protocol.js'

/**
 * The core's handling of single connections: authentication verdicts, the peer limit,
 * contested duplicates and what it ignores. Keys: LOCAL is larger than R1..R3, so a
 * connection this end dialled wins the key rule.
 */
const LOCAL = 'ee'.repeat(32)
const R1 = '11'.repeat(32)
const R2 = '22'.repeat(32)
const R3 = '33'.repeat(32)

const core = (opts: Partial<CoreOptions> = {}) =>
  new NetworkerCore({ localKey: LOCAL, authenticate: false, ...opts })

const open = (connectionId: number, remoteKey: string, isInitiator = true): CoreEvent => ({
  type: 'connection-opened',
  connectionId,
  remoteKey,
  isInitiator,
})

const kept = (connectionId: number, remoteKey: string): CoreEffect[] => [
  { type: 'keep-connection', connectionId, remoteKey },
  { type: 'peer-add', connectionId, remoteKey },
]

describe('the duplicate rule on its own', () => {
  // The peer machine only asks it about inactive connections; the benchmark's baseline
  // uses the whole rule, so both halves are pinned here.
  it('keeps the newcomer whenever the existing connection has carried data both ways', () => {
    for (const isInitiator of [true, false]) {
      for (const [a, b] of [
        [LOCAL, R1],
        [R1, LOCAL],
      ] as const) {
        expect(
          keepNewConnection(
            { isInitiator: !isInitiator, active: true },
            { isInitiator, active: false },
            a,
            b,
          ),
        ).toBe(true)
      }
    }
  })

  it('otherwise keeps the connection whose initiator has the larger key, at both ends alike', () => {
    const existing = { isInitiator: false, active: false }
    // LOCAL > R1: the local end keeps what it dialled, the remote end what it was dialled on.
    expect(keepNewConnection(existing, { isInitiator: true, active: false }, LOCAL, R1)).toBe(true)
    expect(keepNewConnection(existing, { isInitiator: false, active: false }, LOCAL, R1)).toBe(
      false,
    )
    expect(keepNewConnection(existing, { isInitiator: false, active: false }, R1, LOCAL)).toBe(true)
    expect(keepNewConnection(existing, { isInitiator: true, active: false }, R1, LOCAL)).toBe(false)
  })
})

describe('authentication verdicts', () => {
  it('an accepted connection becomes a peer; a rejected one is dropped and never listed', () => {
    const c = core({ authenticate: true })
    expect(c.handle(open(1, R1), 0)).toEqual([
      { type: 'authenticate', connectionId: 1, remoteKey: R1 },
    ])
    expect(c.handle(open(2, R2), 0)).toEqual([
      { type: 'authenticate', connectionId: 2, remoteKey: R2 },
    ])
    expect(c.pendingConnections()).toEqual([1, 2])
    expect(c.peers()).toEqual([])
    expect(
      c.handle({ type: 'connection-authenticated', connectionId: 1, accepted: true }, 0),
    ).toEqual(kept(1, R1))
    expect(
      c.handle({ type: 'connection-authenticated', connectionId: 2, accepted: false }, 0),
    ).toEqual([{ type: 'drop-connection', connectionId: 2, remoteKey: R2, reason: 'rejected' }])
    expect(c.peers()).toEqual([{ remoteKey: R1, connectionId: 1 }])
    expect(c.pendingConnections()).toEqual([])
  })

  it('verdicts repeated, late or for unknown connections change nothing', () => {
    const c = core({ authenticate: true })
    c.handle(open(1, R1), 0)
    c.handle({ type: 'connection-authenticated', connectionId: 1, accepted: true }, 0)
    for (const accepted of [true, false]) {
      expect(c.handle({ type: 'connection-authenticated', connectionId: 1, accepted }, 0)).toEqual(
        [],
      )
      expect(c.handle({ type: 'connection-authenticated', connectionId: 9, accepted }, 0)).toEqual(
        [],
      )
    }
    c.handle(open(2, R2), 0)
    c.handle({ type: 'connection-closed', connectionId: 2 }, 0)
    expect(
      c.handle({ type: 'connection-authenticated', connectionId: 2, accepted: true }, 0),
    ).toEqual([])
    expect(c.peers()).toEqual([{ remoteKey: R1, connectionId: 1 }])
  })

  it('data that arrived during authentication counts once the connection is admitted', () => {
    // R1's kept connection 1 is active; a second one, 2, which this end dialed too (it ranks
    // higher: see dedup-rule.ts), already carried the remote's data while it was being
    // authenticated: the remote keeps it, so it replaces 1 at once.
    const c = core({ authenticate: true })
    c.handle(open(1, R1), 0)
    c.handle({ type: 'connection-authenticated', connectionId: 1, accepted: true }, 0)
    c.handle({ type: 'connection-data', connectionId: 1 }, 0)
    c.handle(open(2, R1), 0)
    expect(c.handle({ type: 'connection-data', connectionId: 2 }, 0)).toEqual([])
    expect(
      c.handle({ type: 'connection-authenticated', connectionId: 2, accepted: true }, 0),
    ).toEqual([
      { type: 'drop-connection', connectionId: 1, remoteKey: R1, reason: 'duplicate' },
      { type: 'peer-remove', connectionId: 1, remoteKey: R1 },
      ...kept(2, R1),
    ])
    expect(c.peers()).toEqual([{ remoteKey: R1, connectionId: 2 }])
  })

  it('data during authentication on a lower-ranked newcomer holds it until its deadline', () => {
    // As above, but R1 dialed 2, which the key rule ranks below 1. Its data shows R1 kept 2
    // at some point, and R1 may have switched to 1 since (its close of 2 on the way): 2 is
    // held. Still open at its deadline, R1 keeps it after all: it replaces 1 then.
    const c = core({ authenticate: true })
    c.handle(open(1, R1), 0)
    c.handle({ type: 'connection-authenticated', connectionId: 1, accepted: true }, 0)
    c.handle({ type: 'connection-data', connectionId: 1 }, 0)
    c.handle(open(2, R1, false), 0)
    expect(c.handle({ type: 'connection-data', connectionId: 2 }, 0)).toEqual([])
    expect(
      c.handle({ type: 'connection-authenticated', connectionId: 2, accepted: true }, 0),
    ).toEqual([])
    expect(c.peers()).toEqual([{ remoteKey: R1, connectionId: 1 }])
    expect(c.nextDeadline()).toBe(10_000)
    expect(c.handle({ type: 'tick' }, 10_000)).toEqual([
      { type: 'drop-connection', connectionId: 1, remoteKey: R1, reason: 'duplicate' },
      { type: 'peer-remove', connectionId: 1, remoteKey: R1 },
      ...kept(2, R1),
    ])
    expect(c.peers()).toEqual([{ remoteKey: R1, connectionId: 2 }])
  })
})

describe('the peer limit', () => {
  it('drops connections from further keys, but not further connections of a kept key', () => {
    const c = core({ maxPeers: 2 })
    c.handle(open(1, R1), 0)
    c.handle(open(2, R2), 0)
    expect(c.handle(open(3, R3), 0)).toEqual([
      { type: 'drop-connection', connectionId: 3, remoteKey: R3, reason: 'limit' },
    ])
    // A duplicate of a kept key is settled by the key rule, not the limit.
    expect(c.handle(open(4, R1, false), 0)).toEqual([
      { type: 'drop-connection', connectionId: 4, remoteKey: R1, reason: 'duplicate' },
    ])
    // Once a peer is gone there is room again.
    expect(c.handle({ type: 'connection-closed', connectionId: 2 }, 0)).toEqual([
      { type: 'peer-remove', connectionId: 2, remoteKey: R2 },
    ])
    expect(c.handle(open(5, R3), 0)).toEqual(kept(5, R3))
    expect(c.peers().map((p) => p.remoteKey)).toEqual([R1, R3])
  })

  it('applies after authentication, to the keys actually admitted', () => {
    const c = core({ authenticate: true, maxPeers: 1 })
    c.handle(open(1, R1), 0)
    c.handle(open(2, R2), 0)
    c.handle({ type: 'connection-authenticated', connectionId: 1, accepted: false }, 0)
    expect(
      c.handle({ type: 'connection-authenticated', connectionId: 2, accepted: true }, 0),
    ).toEqual(kept(2, R2))
    c.handle(open(3, R3), 0)
    expect(
      c.handle({ type: 'connection-authenticated', connectionId: 3, accepted: true }, 0),
    ).toEqual([{ type: 'drop-connection', connectionId: 3, remoteKey: R3, reason: 'limit' }])
    expect(c.pendingConnections()).toEqual([])
  })
})

describe('contested duplicates', () => {
  /** R1 kept on connection 1, which has carried data; connection 2 arrives. */
  function contested(opts: Partial<CoreOptions> = {}) {
    const c = core(opts)
    c.handle(open(1, R1), 0)
    c.handle({ type: 'connection-data', connectionId: 1 }, 0)
    expect(c.handle(open(2, R1, false), 0)).toEqual([])
    return c
  }

  it('wait for the configured deadline', () => {
    const c = contested({ candidateTimeout: 500 })
    expect(c.nextDeadline()).toBe(500)
    expect(c.handle({ type: 'tick' }, 499)).toEqual([])
    expect(c.handle({ type: 'tick' }, 500)).toEqual([
      { type: 'drop-connection', connectionId: 2, remoteKey: R1, reason: 'duplicate' },
    ])
    expect(c.nextDeadline()).toBeNull()
  })

  it('a candidate that closes is forgotten and the kept connection stays', () => {
    const c = contested()
    expect(c.handle({ type: 'connection-closed', connectionId: 2 }, 0)).toEqual([])
    expect(c.nextDeadline()).toBeNull()
    expect(c.peers()).toEqual([{ remoteKey: R1, connectionId: 1 }])
    // Settled again: a later duplicate is contested afresh.
    expect(c.handle(open(3, R1, false), 0)).toEqual([])
    expect(c.nextDeadline()).toBe(10_000)
  })

  it('when the kept connection closes, the candidate takes its place', () => {
    const c = contested()
    expect(c.handle({ type: 'connection-closed', connectionId: 1 }, 0)).toEqual([
      { type: 'peer-remove', connectionId: 1, remoteKey: R1 },
      ...kept(2, R1),
    ])
    expect(c.nextDeadline()).toBeNull()
    expect(c.peers()).toEqual([{ remoteKey: R1, connectionId: 2 }])
  })

  it('more data on the kept connection changes nothing; data on the candidate promotes it', () => {
    // Connection 3, which this end dialed, ranks above 1 (LOCAL is the larger key and, with no
    // handshake hashes, the later of two it dialed wins).
    const c = contested()
    expect(c.handle({ type: 'connection-closed', connectionId: 2 }, 0)).toEqual([])
    expect(c.handle(open(3, R1), 0)).toEqual([])
    expect(c.handle({ type: 'connection-data', connectionId: 1 }, 0)).toEqual([])
    expect(c.handle({ type: 'connection-data', connectionId: 3 }, 0)).toEqual([
      { type: 'drop-connection', connectionId: 1, remoteKey: R1, reason: 'duplicate' },
      { type: 'peer-remove', connectionId: 1, remoteKey: R1 },
      ...kept(3, R1),
    ])
    // The new kept connection has carried data: a further duplicate is contested again.
    expect(c.handle(open(4, R1), 0)).toEqual([])
    expect(c.handle({ type: 'connection-closed', connectionId: 4 }, 0)).toEqual([])
  })

  it('data on a candidate the static order ranks lower waits for a close or the deadline', () => {
    // 2 (R1 dialed it) ranks below 1: its data may predate R1 switching to 1.
    const c = contested()
    expect(c.handle({ type: 'connection-data', connectionId: 2 }, 0)).toEqual([])
    expect(c.peers()).toEqual([{ remoteKey: R1, connectionId: 1 }])
    // R1 had moved on: 2's close follows its data, and 1 stays.
    expect(c.handle({ type: 'connection-closed', connectionId: 2 }, 5)).toEqual([])
    expect(c.nextDeadline()).toBeNull()
    expect(c.peers()).toEqual([{ remoteKey: R1, connectionId: 1 }])
    // R1 had lost 1 instead: 1 closes and the candidate takes its place.
    const d = contested()
    d.handle({ type: 'connection-data', connectionId: 2 }, 0)
    expect(d.handle({ type: 'connection-closed', connectionId: 1 }, 5)).toEqual([
      { type: 'peer-remove', connectionId: 1, remoteKey: R1 },
      ...kept(2, R1),
    ])
    // Neither closes (1 died silently at R1's end): the deadline promotes the one with data.
    const e = contested()
    e.handle({ type: 'connection-data', connectionId: 2 }, 0)
    expect(e.handle({ type: 'tick' }, 9_999)).toEqual([])
    expect(e.handle({ type: 'tick' }, 10_000)).toEqual([
      { type: 'drop-connection', connectionId: 1, remoteKey: R1, reason: 'duplicate' },
      { type: 'peer-remove', connectionId: 1, remoteKey: R1 },
      ...kept(2, R1),
    ])
  })

  it('a newer candidate that outranks the held one replaces it', () => {
    const c = contested()
    expect(c.handle(open(3, R1), 0)).toEqual([
      { type: 'drop-connection', connectionId: 2, remoteKey: R1, reason: 'duplicate' },
    ])
    expect(c.handle({ type: 'connection-data', connectionId: 3 }, 0)).toEqual([
      { type: 'drop-connection', connectionId: 1, remoteKey: R1, reason: 'duplicate' },
      { type: 'peer-remove', connectionId: 1, remoteKey: R1 },
      ...kept(3, R1),
    ])
  })

  it('a newer candidate the held one outranks is dropped, whatever it carried', () => {
    // 3 was dialed by R1 like 2; with no handshake hashes the key rule keeps the older of two
    // R1 dialed. Its data, arrived before it was admitted, does not change that.
    const c = core({ authenticate: true })
    c.handle(open(1, R1), 0)
    c.handle({ type: 'connection-authenticated', connectionId: 1, accepted: true }, 0)
    c.handle({ type: 'connection-data', connectionId: 1 }, 0)
    c.handle(open(2, R1, false), 0)
    c.handle({ type: 'connection-authenticated', connectionId: 2, accepted: true }, 0)
    c.handle(open(3, R1, false), 100)
    c.handle({ type: 'connection-data', connectionId: 3 }, 100)
    expect(
      c.handle({ type: 'connection-authenticated', connectionId: 3, accepted: true }, 100),
    ).toEqual([{ type: 'drop-connection', connectionId: 3, remoteKey: R1, reason: 'duplicate' }])
    // The held one keeps its deadline, and is still the candidate.
    expect(c.nextDeadline()).toBe(10_000)
    expect(c.handle({ type: 'connection-data', connectionId: 2 }, 200)).toEqual([])
    expect(c.peers()).toEqual([{ remoteKey: R1, connectionId: 1 }])
  })

  it('a candidate dropped at its deadline is gone: a forced close drops only the kept one', () => {
    const c = contested()
    c.handle({ type: 'tick' }, 10_000)
    c.handle({ type: 'close', requestId: 1 }, 10_000)
    expect(c.handle({ type: 'close-timeout' }, 10_000)).toEqual([
      { type: 'drop-connection', connectionId: 1, remoteKey: R1, reason: 'closing' },
      { type: 'peer-remove', connectionId: 1, remoteKey: R1 },
      { type: 'destroy-swarm' },
      { type: 'settle', requestId: 1, report: { unannounced: [], forced: true } },
    ])
  })

  it("a dropped duplicate's late data and close change nothing, before or after the contest", () => {
    const c = contested()
    // Connection 3 replaces candidate 2; then 2's data and close arrive.
    c.handle(open(3, R1), 0)
    expect(c.handle({ type: 'connection-data', connectionId: 2 }, 0)).toEqual([])
    expect(c.handle({ type: 'connection-closed', connectionId: 2 }, 0)).toEqual([])
    expect(c.nextDeadline()).toBe(10_000)
    // Settled by the deadline: 3's late data and close change nothing either.
    c.handle({ type: 'tick' }, 10_000)
    expect(c.handle({ type: 'connection-data', connectionId: 3 }, 10_000)).toEqual([])
    expect(c.handle({ type: 'connection-closed', connectionId: 3 }, 10_000)).toEqual([])
    expect(c.peers()).toEqual([{ remoteKey: R1, connectionId: 1 }])
  })

  it('data on a duplicate the key rule dropped does not make the kept one active', () => {
    const c = core()
    c.handle(open(1, R1), 0)
    // LOCAL is larger, so a connection R1 dialled loses to the one this end dialled.
    expect(c.handle(open(2, R1, false), 0)).toEqual([
      { type: 'drop-connection', connectionId: 2, remoteKey: R1, reason: 'duplicate' },
    ])
    expect(c.handle({ type: 'connection-data', connectionId: 2 }, 0)).toEqual([])
    // Still inactive: the next duplicate is settled by key at once, not held as a candidate.
    expect(c.handle(open(3, R1), 0)).toEqual([
      { type: 'drop-connection', connectionId: 1, remoteKey: R1, reason: 'duplicate' },
      { type: 'peer-remove', connectionId: 1, remoteKey: R1 },
      ...kept(3, R1),
    ])
    expect(c.nextDeadline()).toBeNull()
  })

  it('a close drops both, the candidate for closing, and lists the peer until it closed', () => {
    const c = contested()
    const effects = c.handle({ type: 'close', requestId: 1 }, 0)
    expect(effects.filter((e) => e.type === 'drop-connection')).toEqual([
      { type: 'drop-connection', connectionId: 2, remoteKey: R1, reason: 'closing' },
      { type: 'drop-connection', connectionId: 1, remoteKey: R1, reason: 'closing' },
    ])
    expect(c.peers()).toEqual([{ remoteKey: R1, connectionId: 1 }])
    expect(c.handle({ type: 'connection-closed', connectionId: 1 }, 0)).toEqual([
      { type: 'peer-remove', connectionId: 1, remoteKey: R1 },
      { type: 'destroy-swarm' },
    ])
  })
})

describe('what the core ignores', () => {
  it('a connection opened twice, and data or closes for unknown connections', () => {
    const c = core()
    expect(c.handle(open(1, R1), 0)).toEqual(kept(1, R1))
    expect(c.handle(open(1, R1), 0)).toEqual([])
    expect(c.handle({ type: 'connection-data', connectionId: 7 }, 0)).toEqual([])
    expect(c.handle({ type: 'connection-closed', connectionId: 7 }, 0)).toEqual([])
    expect(c.handle({ type: 'connection-closed', connectionId: 1 }, 0)).toEqual([
      { type: 'peer-remove', connectionId: 1, remoteKey: R1 },
    ])
    expect(c.handle({ type: 'connection-closed', connectionId: 1 }, 0)).toEqual([])
    expect(c.peers()).toEqual([])
  })

  it('results for topics it never configured', () => {
    const c = core()
    const T = '01'.repeat(32)
    expect(c.status(T)).toBeNull()
    expect(c.statuses()).toEqual([])
    expect(c.handle({ type: 'swarm-flushed', topic: T, op: 1 }, 0)).toEqual([])
    expect(c.handle({ type: 'topic-joined', topic: T, op: 1 }, 0)).toEqual([])
    expect(c.handle({ type: 'topic-left', topic: T, op: 1 }, 0)).toEqual([])
    const error = { code: ErrorCode.TOPIC_JOIN_FAILED, message: 'lost' }
    expect(c.handle({ type: 'topic-join-failed', topic: T, op: 1, error }, 0)).toEqual([])
    expect(c.handle({ type: 'topic-leave-failed', topic: T, op: 1, error }, 0)).toEqual([])
    expect(c.handle({ type: 'swarm-flush-failed', topic: T, op: 1, error }, 0)).toEqual([])
    expect(c.statuses()).toEqual([])
  })

  it('a close deadline while open, or once closed, changes nothing', () => {
    const c = core()
    c.handle(open(1, R1), 0)
    expect(c.handle({ type: 'close-timeout' }, 0)).toEqual([])
    expect(c.lifeState).toBe('open')
    expect(c.peers()).toEqual([{ remoteKey: R1, connectionId: 1 }])
    c.handle({ type: 'close', requestId: 1 }, 0)
    c.handle({ type: 'connection-closed', connectionId: 1 }, 0)
    expect(c.handle({ type: 'swarm-destroyed' }, 0)).toEqual([
      { type: 'settle', requestId: 1, report: { unannounced: [], forced: false } },
    ])
    expect(c.handle({ type: 'close-timeout' }, 0)).toEqual([])
    expect(c.handle({ type: 'close', requestId: 2 }, 0)).toEqual([
      { type: 'settle', requestId: 2, report: { unannounced: [], forced: false } },
    ])
  })
})
