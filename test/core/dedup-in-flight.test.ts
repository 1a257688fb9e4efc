import { describe, expect, it } from 'vitest'
import {
  type Conn,
  explore,
  finish,
  judge,
  run,
  type Step,
  type WorldSetup,
} from './dedup-world.js'

/**
 * The duplicate rule when a connection's data is still on its way after the remote stopped
 * keeping it (dedup-world.ts models the wire). Data on a connection proves the remote kept it
 * at some point, not that it keeps it now: a rule that promotes a held newcomer on its data
 * alone keeps what the remote already dropped. The first three tests are the simulator's
 * seeds reduced to the steps that matter; the rest explore every interleaving.
 */
const KEY_LOW = '11'.repeat(32)
const KEY_HIGH = 'ee'.repeat(32)
const HASH_SMALL = '20'.repeat(64)
const HASH_MID = '80'.repeat(64)
const HASH_LARGE = 'd0'.repeat(64)
const HASH_TOP = 'f0'.repeat(64)

const step = (kind: 'open' | 'auth' | 'data' | 'close', end: 'A' | 'B', conn: number): Step => ({
  kind,
  end,
  conn,
})
/** A connection's handshake completes at an end and is accepted there. */
const admit = (end: 'A' | 'B', conn: number): Step[] => [
  step('open', end, conn),
  step('auth', end, conn),
]

describe('a held newcomer that carries data the remote sent before dropping it', () => {
  it('two dials from opposite ends at once (seed 1716848175)', () => {
    // A has the larger key: the key rule keeps c1, which A dialed. B kept c2 first and wrote
    // on it, then c1 arrived and B switched to it; at A, c1 is kept and active when c2 —
    // with B's data from before the switch — is admitted. c2's close is on its way.
    const setup: WorldSetup = {
      keyA: KEY_HIGH,
      keyB: KEY_LOW,
      authenticate: true,
      conns: [
        { id: 1, initiator: 'A' },
        { id: 2, initiator: 'B' },
      ],
    }
    const world = run(setup, [
      ...admit('B', 2),
      ...admit('A', 1),
      ...admit('B', 1),
      step('open', 'A', 2),
      step('data', 'A', 2),
      step('data', 'A', 1),
      step('auth', 'A', 2),
    ])
    expect([...world.kept.B]).toEqual([1])
    // A must not take c2 on that data: B is on c1.
    expect([...world.kept.A]).toEqual([1])
    expect(judge(finish(world))).toBeNull()
    expect([...world.kept.A]).toEqual([1])
  })

  it('two dials from one end, over two transports (seed 1881593114)', () => {
    // B dialed both; c1 has the larger handshake hash. B kept c2 first, wrote on it, then
    // switched to c1 by the hash; at A, c1 is kept and active when c2 and its data arrive.
    const setup: WorldSetup = {
      keyA: KEY_LOW,
      keyB: KEY_HIGH,
      authenticate: true,
      conns: [
        { id: 1, initiator: 'B', hash: HASH_LARGE },
        { id: 2, initiator: 'B', hash: HASH_SMALL },
      ],
    }
    const world = run(setup, [
      ...admit('B', 2),
      ...admit('A', 1),
      ...admit('B', 1),
      step('open', 'A', 2),
      step('data', 'A', 2),
      step('data', 'A', 1),
      step('auth', 'A', 2),
    ])
    expect([...world.kept.B]).toEqual([1])
    expect([...world.kept.A]).toEqual([1])
    expect(judge(finish(world))).toBeNull()
    expect([...world.kept.A]).toEqual([1])
  })

  it('two dials at once while A still holds a dead active link to B (seed 2143542689)', () => {
    // A keeps c0, active, to a process of B that crashed; the link is silent. B, restarted,
    // keeps c2 (its own dial), writes on it, then switches to c1 by the key rule. At A, c1 is
    // held against c0; c2 arrives with B's data from before the switch.
    const setup: WorldSetup = {
      keyA: KEY_HIGH,
      keyB: KEY_LOW,
      authenticate: true,
      stale: { id: 0, initiator: 'A', hash: HASH_TOP },
      conns: [
        { id: 1, initiator: 'A', hash: HASH_SMALL },
        { id: 2, initiator: 'B', hash: HASH_MID },
      ],
    }
    const world = run(setup, [
      ...admit('B', 2),
      ...admit('A', 1),
      ...admit('B', 1),
      step('open', 'A', 2),
      step('data', 'A', 2),
      step('auth', 'A', 2),
    ])
    expect([...world.kept.B]).toEqual([1])
    // c2 neither displaces c1, the newcomer B keeps, nor is taken over c0 on stale data.
    expect([...world.kept.A]).toEqual([0])
    expect(judge(finish(world))).toBeNull()
    expect([...world.kept.A]).toEqual([1])
  })
})

const KEYS = [
  ['A has the larger key', KEY_HIGH, KEY_LOW],
  ['B has the larger key', KEY_LOW, KEY_HIGH],
] as const

describe('every interleaving, data in flight', () => {
  for (const [keys, keyA, keyB] of KEYS) {
    for (const authenticate of [false, true]) {
      const how = `${keys}, ${authenticate ? 'authenticated' : 'no authentication'}`

      it(`dials from opposite ends: the same single connection at both (${how})`, () => {
        const conns: Conn[] = [
          { id: 1, initiator: 'A', hash: HASH_LARGE },
          { id: 2, initiator: 'B', hash: HASH_SMALL },
        ]
        const { leaves, failures } = explore({ keyA, keyB, authenticate, conns })
        expect(leaves).toBeGreaterThan(authenticate ? 1000 : 40)
        expect(failures.slice(0, 3)).toEqual([])
      })

      for (const dialer of ['A', 'B'] as const) {
        it(`two dials from ${dialer}: the same single connection at both (${how})`, () => {
          const conns: Conn[] = [
            { id: 1, initiator: dialer, hash: HASH_SMALL },
            { id: 2, initiator: dialer, hash: HASH_LARGE },
          ]
          const { leaves, failures } = explore({ keyA, keyB, authenticate, conns })
          expect(leaves).toBeGreaterThan(authenticate ? 1000 : 40)
          expect(failures.slice(0, 3)).toEqual([])
        })
      }
    }
  }
})

describe('every interleaving, A holding a dead active link to a restarted B', () => {
  // B's old process is gone: only a tick (the candidate deadline) or a newcomer B keeps can
  // move A off the dead link, and A must end on the connection B keeps.
  const shapes: [string, Conn[]][] = [
    [
      'dials from opposite ends',
      [
        { id: 1, initiator: 'A', hash: HASH_SMALL },
        { id: 2, initiator: 'B', hash: HASH_MID },
      ],
    ],
    [
      'two dials from A',
      [
        { id: 1, initiator: 'A', hash: HASH_SMALL },
        { id: 2, initiator: 'A', hash: HASH_MID },
      ],
    ],
    [
      'two dials from B',
      [
        { id: 1, initiator: 'B', hash: HASH_SMALL },
        { id: 2, initiator: 'B', hash: HASH_MID },
      ],
    ],
    ['one dial from B', [{ id: 1, initiator: 'B', hash: HASH_MID }]],
    ['one dial from A', [{ id: 1, initiator: 'A', hash: HASH_MID }]],
  ]
  for (const [keys, keyA, keyB] of KEYS) {
    for (const [shape, conns] of shapes) {
      for (const staleHash of [HASH_TOP, '00'.repeat(64)]) {
        const rank = staleHash === HASH_TOP ? 'outranks' : 'is outranked by'
        for (const staleInitiator of ['A', 'B'] as const) {
          it(`${shape}; the dead link, dialed by ${staleInitiator}, ${rank} same-end dials (${keys})`, () => {
            const stale: Conn = { id: 0, initiator: staleInitiator, hash: staleHash }
            const { leaves, failures } = explore({
              keyA,
              keyB,
              authenticate: true,
              conns,
              stale,
            })
            expect(leaves).toBeGreaterThan(conns.length > 1 ? 500 : 1)
            expect(failures.slice(0, 3)).toEqual([])
          })
        }
      }
    }
  }
})

describe('every interleaving, a third connection: one up at both ends, its data in flight', () => {
  // c0 is open and kept at both ends when c1 and c2 are dialed; its data is still on the
  // wire, so each end may find it active or not when the others arrive.
  const shapes: [string, Conn[]][] = [
    [
      'then dials from opposite ends',
      [
        { id: 1, initiator: 'B', hash: HASH_SMALL },
        { id: 2, initiator: 'A', hash: HASH_MID },
      ],
    ],
    [
      'then two dials from B',
      [
        { id: 1, initiator: 'B', hash: HASH_SMALL },
        { id: 2, initiator: 'B', hash: HASH_MID },
      ],
    ],
  ]
  const up: Conn = { id: 0, initiator: 'A', hash: HASH_LARGE }
  for (const [keys, keyA, keyB] of KEYS) {
    for (const [shape, conns] of shapes) {
      for (const authenticate of [false, true]) {
        // Authenticated, the space is ten times larger: explored for one key order.
        if (authenticate && keyA === KEY_LOW) continue
        const how = `${keys}, ${authenticate ? 'authenticated' : 'no authentication'}`
        it(`c0 dialed by A, ${shape} (${how})`, () => {
          const prelude: Step[] = authenticate
            ? [...admit('A', 0), ...admit('B', 0)]
            : [step('open', 'A', 0), step('open', 'B', 0)]
          const world = { keyA, keyB, authenticate, conns: [up, ...conns], prelude }
          const { leaves, failures } = explore(world)
          expect(leaves).toBeGreaterThan(authenticate ? 5000 : 200)
          expect(failures.slice(0, 3)).toEqual([])
        })
      }
    }
  }
})
