import { describe, expect, it } from 'vitest'
import { NetworkerCore } from '../../src/core/networker-core.js'
import type { CoreEffect } from '../../src/core/protocol.js'

/**
 * Two cores, A and B, and two connections between them: c1 dialled by A, c2 dialled by B.
 * Every interleaving of what each end can observe is explored:
 *  - open(X, c): c's handshake completes at end X (the dialler's open may come first or last);
 *  - data(X, c): the other end's first data reaches X on c; the other end writes only on a
 *    connection it kept, so this needs the other end to have kept c (and X to have opened it);
 *  - close(X, c): the other end dropped c, so X sees it close (only after X opened it);
 *  - tick(X): X's clock passes the candidate deadline. The deadline (10 s) is chosen longer
 *    than any delivery delay, so a tick is only taken once nothing else is in flight.
 * At quiescence both ends must keep the same single connection.
 */
type End = 'A' | 'B'
type Conn = 1 | 2
type Step =
  | { kind: 'open'; end: End; conn: Conn }
  | { kind: 'data'; end: End; conn: Conn }
  | { kind: 'tick'; end: End }
  | { kind: 'close'; end: End; conn: Conn }

const KEY_LOW = '11'.repeat(32)
const KEY_HIGH = 'ee'.repeat(32)

interface World {
  cores: Record<End, NetworkerCore>
  opened: Record<End, Set<Conn>>
  kept: Record<End, Set<Conn>>
  dropped: Record<End, Set<Conn>>
  closed: Record<End, Set<Conn>>
  data: Record<End, Set<Conn>>
  now: Record<End, number>
  trace: string[]
}

const other = (end: End): End => (end === 'A' ? 'B' : 'A')
const initiatorOf = (conn: Conn): End => (conn === 1 ? 'A' : 'B')

function makeWorld(keyA: string, keyB: string): World {
  return {
    cores: {
      A: new NetworkerCore({ localKey: keyA, authenticate: false }),
      B: new NetworkerCore({ localKey: keyB, authenticate: false }),
    },
    opened: { A: new Set(), B: new Set() },
    kept: { A: new Set(), B: new Set() },
    dropped: { A: new Set(), B: new Set() },
    closed: { A: new Set(), B: new Set() },
    data: { A: new Set(), B: new Set() },
    now: { A: 0, B: 0 },
    trace: [],
  }
}

function apply(world: World, end: End, effects: CoreEffect[]): void {
  for (const effect of effects) {
    const conn =
      effect.type === 'keep-connection' || effect.type === 'drop-connection'
        ? (effect.connectionId as Conn)
        : null
    if (conn === null) continue
    if (effect.type === 'keep-connection') world.kept[end].add(conn)
    if (effect.type === 'drop-connection') {
      world.kept[end].delete(conn)
      world.dropped[end].add(conn)
    }
  }
}

function enabled(world: World): Step[] {
  const steps: Step[] = []
  for (const end of ['A', 'B'] as const) {
    for (const conn of [1, 2] as const) {
      if (!world.opened[end].has(conn)) steps.push({ kind: 'open', end, conn })
      const peerDropped = world.dropped[other(end)].has(conn)
      const live = world.opened[end].has(conn) && !world.closed[end].has(conn)
      if (peerDropped && live) steps.push({ kind: 'close', end, conn })
      if (live && world.kept[other(end)].has(conn) && !world.data[end].has(conn)) {
        steps.push({ kind: 'data', end, conn })
      }
    }
  }
  if (steps.length > 0) return steps
  for (const end of ['A', 'B'] as const) {
    if (world.cores[end].nextDeadline() !== null) steps.push({ kind: 'tick', end })
  }
  return steps
}

function run(keyA: string, keyB: string, steps: Step[]): World {
  const world = makeWorld(keyA, keyB)
  const remote = { A: keyB, B: keyA }
  for (const step of steps) {
    world.trace.push(JSON.stringify(step))
    if (step.kind === 'open') {
      world.opened[step.end].add(step.conn)
      const effects = world.cores[step.end].handle(
        {
          type: 'connection-opened',
          connectionId: step.conn,
          remoteKey: remote[step.end],
          isInitiator: initiatorOf(step.conn) === step.end,
        },
        0,
      )
      apply(world, step.end, effects)
    } else if (step.kind === 'data') {
      world.data[step.end].add(step.conn)
      const effects = world.cores[step.end].handle(
        {
          type: 'connection-data',
          connectionId: step.conn,
        },
        0,
      )
      apply(world, step.end, effects)
    } else if (step.kind === 'tick') {
      const core = world.cores[step.end]
      world.now[step.end] = core.nextDeadline() ?? world.now[step.end]
      apply(world, step.end, core.handle({ type: 'tick' }, world.now[step.end]))
    } else {
      world.closed[step.end].add(step.conn)
      world.kept[step.end].delete(step.conn)
      apply(
        world,
        step.end,
        world.cores[step.end].handle({ type: 'connection-closed', connectionId: step.conn }, 0),
      )
    }
  }
  return world
}

/** Depth-first over every enabled step; replays from scratch so each path is independent. */
function explore(keyA: string, keyB: string, onLeaf: (world: World) => void): number {
  let leaves = 0
  const visit = (prefix: Step[]): void => {
    const world = run(keyA, keyB, prefix)
    const next = enabled(world)
    if (next.length === 0) {
      leaves++
      onLeaf(world)
      return
    }
    for (const step of next) visit([...prefix, step])
  }
  visit([])
  return leaves
}

describe('duplicate connections between two keys', () => {
  for (const [label, keyA, keyB] of [
    ['A has the larger key', KEY_HIGH, KEY_LOW],
    ['B has the larger key', KEY_LOW, KEY_HIGH],
  ] as const) {
    it(`both ends keep the same single connection in every interleaving (${label})`, () => {
      const failures: string[] = []
      const leaves = explore(keyA, keyB, (world) => {
        const a = [...world.kept.A].sort()
        const b = [...world.kept.B].sort()
        if (a.length !== 1 || a.join() !== b.join()) {
          failures.push(`A kept [${a}] B kept [${b}] after ${world.trace.join(' ')}`)
        }
        expect(world.cores.A.peers().length).toBe(a.length)
        expect(world.cores.B.peers().length).toBe(b.length)
      })
      expect(leaves).toBeGreaterThan(100)
      expect(failures.slice(0, 5)).toEqual([])
    })
  }

  it('keeps the connection whose initiator has the larger key when neither is active', () => {
    const world = run(KEY_HIGH, KEY_LOW, [
      { kind: 'open', end: 'A', conn: 1 },
      { kind: 'open', end: 'A', conn: 2 },
      { kind: 'open', end: 'B', conn: 2 },
      { kind: 'open', end: 'B', conn: 1 },
    ])
    expect([...world.kept.A]).toEqual([1])
    expect([...world.kept.B]).toEqual([1])
  })

  it('a reconnect replaces a connection that has carried data both ways', () => {
    // B lost c1 without A noticing, and dials again; A's c1 is active but stale.
    const world = run(KEY_HIGH, KEY_LOW, [
      { kind: 'open', end: 'A', conn: 1 },
      { kind: 'open', end: 'B', conn: 1 },
      { kind: 'data', end: 'A', conn: 1 },
      { kind: 'data', end: 'B', conn: 1 },
      { kind: 'close', end: 'B', conn: 1 },
      { kind: 'open', end: 'B', conn: 2 },
      { kind: 'open', end: 'A', conn: 2 },
    ])
    // A holds c2 as a candidate until B shows it keeps c2.
    expect([...world.kept.A]).toEqual([1])
    // B's data on c2 shows B kept c2, but not that it still does: c1 ranks higher (A, the
    // larger key, dialed it), and a B that had kept c2 and then switched to c1 would have sent
    // the same data (dedup-in-flight.test.ts). A waits for a close, or the deadline.
    expect(world.cores.A.handle({ type: 'connection-data', connectionId: 2 }, 0)).toEqual([])
    expect(world.cores.A.nextDeadline()).toBe(10_000)
    // c1 is silent for good and c2 has not closed in all that time: B keeps c2.
    const effects = world.cores.A.handle({ type: 'tick' }, 10_000)
    expect(effects.map((e) => e.type)).toEqual([
      'drop-connection',
      'peer-remove',
      'keep-connection',
      'peer-add',
    ])
    expect(world.cores.A.peers()).toEqual([{ remoteKey: KEY_LOW, connectionId: 2 }])
  })

  it('a reconnect on a connection that outranks the active one replaces it on its data', () => {
    // As above, with B the larger key: c2, which B dialed, ranks higher than c1. B cannot have
    // left c2 for c1 (it never had A's data on c2), so its data means B keeps it now.
    const world = run(KEY_LOW, KEY_HIGH, [
      { kind: 'open', end: 'A', conn: 1 },
      { kind: 'open', end: 'B', conn: 1 },
      { kind: 'data', end: 'A', conn: 1 },
      { kind: 'data', end: 'B', conn: 1 },
      { kind: 'close', end: 'B', conn: 1 },
      { kind: 'open', end: 'B', conn: 2 },
      { kind: 'open', end: 'A', conn: 2 },
    ])
    expect([...world.kept.A]).toEqual([1])
    const effects = world.cores.A.handle({ type: 'connection-data', connectionId: 2 }, 0)
    expect(effects.map((e) => e.type)).toEqual([
      'drop-connection',
      'peer-remove',
      'keep-connection',
      'peer-add',
    ])
    expect(world.cores.A.nextDeadline()).toBeNull()
  })

  it('drops a silent candidate at its deadline and keeps the active connection', () => {
    const world = run(KEY_LOW, KEY_HIGH, [
      { kind: 'open', end: 'A', conn: 1 },
      { kind: 'open', end: 'B', conn: 1 },
      { kind: 'data', end: 'A', conn: 1 },
      { kind: 'open', end: 'A', conn: 2 },
    ])
    const core = world.cores.A
    const deadline = core.nextDeadline()
    expect(deadline).toBe(10_000)
    expect(core.handle({ type: 'tick' }, 9_999)).toEqual([])
    expect(core.handle({ type: 'tick' }, 10_000)).toEqual([
      { type: 'drop-connection', connectionId: 2, remoteKey: KEY_HIGH, reason: 'duplicate' },
    ])
    expect(core.peers()).toEqual([{ remoteKey: KEY_HIGH, connectionId: 1 }])
  })
})
