import { describe, expect, it } from 'vitest'
import { settleKeepsNew } from '../../src/core/dedup-rule.js'
import { NetworkerCore } from '../../src/core/networker-core.js'
import type { CoreEffect } from '../../src/core/protocol.js'

/**
 * Two connections between A and B dialed by the same end — a direct TCP dial and the
 * swarm's UDX dial, say — in every interleaving of what each end observes (as in
 * dedup-interleavings.test.ts: opens, the remote's first data on a connection it kept,
 * closes of what the remote dropped, and the candidate deadline once nothing else is in
 * flight). Both ends must end with the same single connection. The key rule alone cannot
 * do it (both connections have the same initiator); the handshake hash, equal at both
 * ends, orders them alike.
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
const other = (end: End): End => (end === 'A' ? 'B' : 'A')

interface Setup {
  keyA: string
  keyB: string
  /** Who dialed both connections. */
  dialer: End
  /** The handshake hash of each connection, or none (a stream without one). */
  hashes: Record<Conn, string | undefined>
}

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

function apply(world: World, end: End, effects: CoreEffect[]): void {
  for (const effect of effects) {
    if (effect.type === 'keep-connection') world.kept[end].add(effect.connectionId as Conn)
    if (effect.type === 'drop-connection') {
      world.kept[end].delete(effect.connectionId as Conn)
      world.dropped[end].add(effect.connectionId as Conn)
    }
  }
}

function enabled(world: World): Step[] {
  const steps: Step[] = []
  for (const end of ['A', 'B'] as const) {
    for (const conn of [1, 2] as const) {
      if (!world.opened[end].has(conn)) steps.push({ kind: 'open', end, conn })
      const live = world.opened[end].has(conn) && !world.closed[end].has(conn)
      if (live && world.dropped[other(end)].has(conn)) steps.push({ kind: 'close', end, conn })
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

function run(setup: Setup, steps: Step[]): World {
  const world: World = {
    cores: {
      A: new NetworkerCore({ localKey: setup.keyA, authenticate: false }),
      B: new NetworkerCore({ localKey: setup.keyB, authenticate: false }),
    },
    opened: { A: new Set(), B: new Set() },
    kept: { A: new Set(), B: new Set() },
    dropped: { A: new Set(), B: new Set() },
    closed: { A: new Set(), B: new Set() },
    data: { A: new Set(), B: new Set() },
    now: { A: 0, B: 0 },
    trace: [],
  }
  const remote = { A: setup.keyB, B: setup.keyA }
  for (const step of steps) {
    world.trace.push(`${step.kind}${step.end}${'conn' in step ? step.conn : ''}`)
    const core = world.cores[step.end]
    if (step.kind === 'open') {
      world.opened[step.end].add(step.conn)
      const hash = setup.hashes[step.conn]
      const event = {
        type: 'connection-opened' as const,
        connectionId: step.conn,
        remoteKey: remote[step.end],
        isInitiator: setup.dialer === step.end,
        ...(hash === undefined ? {} : { handshakeHash: hash }),
      }
      apply(world, step.end, core.handle(event, 0))
    } else if (step.kind === 'data') {
      world.data[step.end].add(step.conn)
      apply(world, step.end, core.handle({ type: 'connection-data', connectionId: step.conn }, 0))
    } else if (step.kind === 'tick') {
      world.now[step.end] = core.nextDeadline() ?? world.now[step.end]
      apply(world, step.end, core.handle({ type: 'tick' }, world.now[step.end]))
    } else {
      world.closed[step.end].add(step.conn)
      world.kept[step.end].delete(step.conn)
      apply(world, step.end, core.handle({ type: 'connection-closed', connectionId: step.conn }, 0))
    }
  }
  return world
}

/** Every interleaving; the ends' kept sets at each leaf that do not agree on one connection. */
function explore(setup: Setup): { leaves: number; failures: string[] } {
  let leaves = 0
  const failures: string[] = []
  const visit = (prefix: Step[]): void => {
    const world = run(setup, prefix)
    const next = enabled(world)
    if (next.length === 0) {
      leaves++
      const a = [...world.kept.A].sort().join()
      const b = [...world.kept.B].sort().join()
      if (world.kept.A.size !== 1 || a !== b) {
        failures.push(`A kept [${a}] B kept [${b}] after ${world.trace.join(' ')}`)
      }
      if (world.cores.A.peers().length !== world.kept.A.size) failures.push('A lists wrongly')
      if (world.cores.B.peers().length !== world.kept.B.size) failures.push('B lists wrongly')
      return
    }
    for (const step of next) visit([...prefix, step])
  }
  visit([])
  return { leaves, failures }
}

const HASH_SMALL = '20'.repeat(64)
const HASH_LARGE = 'd0'.repeat(64)

describe('two connections dialed by the same end (two transports to one key)', () => {
  for (const [keys, keyA, keyB] of [
    ['A has the larger key', KEY_HIGH, KEY_LOW],
    ['B has the larger key', KEY_LOW, KEY_HIGH],
  ] as const) {
    for (const dialer of ['A', 'B'] as const) {
      for (const [order, hashes] of [
        ['the first has the larger hash', { 1: HASH_LARGE, 2: HASH_SMALL }],
        ['the second has the larger hash', { 1: HASH_SMALL, 2: HASH_LARGE }],
      ] as const) {
        it(`both ends keep the same single one in every interleaving (${keys}, ${dialer} dials both, ${order})`, () => {
          const { leaves, failures } = explore({ keyA, keyB, dialer, hashes })
          expect(leaves).toBeGreaterThan(100)
          expect(failures.slice(0, 5)).toEqual([])
        })
      }
    }
  }

  it('keeps the one with the larger handshake hash when neither is active, whatever the order', () => {
    const setup: Setup = {
      keyA: KEY_HIGH,
      keyB: KEY_LOW,
      dialer: 'A',
      hashes: { 1: HASH_SMALL, 2: HASH_LARGE },
    }
    const world = run(setup, [
      { kind: 'open', end: 'A', conn: 1 },
      { kind: 'open', end: 'A', conn: 2 },
      { kind: 'open', end: 'B', conn: 2 },
      { kind: 'open', end: 'B', conn: 1 },
    ])
    expect([...world.kept.A]).toEqual([2])
    expect([...world.kept.B]).toEqual([2])
  })

  it('without handshake hashes the key rule alone splits the ends in some interleaving', () => {
    // Why the hash is there: the same opens in opposite orders leave each end keeping the
    // connection the other dropped.
    const { failures } = explore({
      keyA: KEY_HIGH,
      keyB: KEY_LOW,
      dialer: 'A',
      hashes: { 1: undefined, 2: undefined },
    })
    expect(failures.length).toBeGreaterThan(0)
  })
})

describe('settleKeepsNew on its own', () => {
  it('orders same-initiator connections by hash, alike at both ends', () => {
    const small = { isInitiator: true, handshakeHash: HASH_SMALL }
    const large = { isInitiator: true, handshakeHash: HASH_LARGE }
    // At the dialer (both initiated here) and at the other end (neither), either order.
    expect(settleKeepsNew(small, large, KEY_HIGH, KEY_LOW)).toBe(true)
    expect(settleKeepsNew(large, small, KEY_HIGH, KEY_LOW)).toBe(false)
    const smallThere = { isInitiator: false, handshakeHash: HASH_SMALL }
    const largeThere = { isInitiator: false, handshakeHash: HASH_LARGE }
    expect(settleKeepsNew(smallThere, largeThere, KEY_LOW, KEY_HIGH)).toBe(true)
    expect(settleKeepsNew(largeThere, smallThere, KEY_LOW, KEY_HIGH)).toBe(false)
  })

  it('between two connections one end dialed with equal handshake hashes, the keys decide', () => {
    // Never seen in practice (a hash is the connection's own); the hashes cannot order them.
    const first = { isInitiator: true, handshakeHash: HASH_SMALL }
    const second = { isInitiator: true, handshakeHash: HASH_SMALL }
    expect(settleKeepsNew(first, second, KEY_HIGH, KEY_LOW)).toBe(true)
    expect(settleKeepsNew(first, second, KEY_LOW, KEY_HIGH)).toBe(false)
  })

  it('leaves connections dialed by different ends to the key rule, hashes or not', () => {
    const mine = { isInitiator: true, handshakeHash: HASH_SMALL }
    const theirs = { isInitiator: false, handshakeHash: HASH_LARGE }
    // The local key is larger: keep what we dialed, whatever the hashes say.
    expect(settleKeepsNew(theirs, mine, KEY_HIGH, KEY_LOW)).toBe(true)
    expect(settleKeepsNew(mine, theirs, KEY_HIGH, KEY_LOW)).toBe(false)
  })
})
