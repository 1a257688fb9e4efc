import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ErrorCode, NetworkerError, toError } from '../../src/core/errors.js'
import {
  bytesToHex,
  compareKeys,
  describe as describeValue,
  discoveryKeyToHex,
  hexToBytes,
  publicKeyToHex,
} from '../../src/core/keys.js'
import { TimerQueue } from '../../src/core/timer-queue.js'
import { thrownBy } from '../helpers/thrown.js'

describe('error codes', () => {
  it('are the documented, stable strings', () => {
    // The public contract (README "Errors"): callers branch on these exact strings.
    expect(Object.values(ErrorCode).sort()).toEqual(
      [
        'ABORTED',
        'AUTHENTICATION_FAILED',
        'DECODE_FAILED',
        'ENCODE_FAILED',
        'EXTENSION_DESTROYED',
        'EXTENSION_HOLD_FULL',
        'EXTENSION_NOT_SUPPORTED',
        'FLUSH_FAILED',
        'FLUSH_TIMEOUT',
        'HANDLER_FAILED',
        'INVALID_DISCOVERY_KEY',
        'INVALID_OPTION',
        'INVALID_PUBLIC_KEY',
        'LISTENER_FAILED',
        'MESSAGE_TOO_LARGE',
        'NETWORKER_CLOSED',
        'NOT_READY',
        'PEER_NOT_CONNECTED',
        'PERSIST_FAILED',
        'RECORD_DAMAGED',
        'RECORD_VERSION_UNKNOWN',
        'TOPIC_JOIN_FAILED',
        'TOPIC_PROOF_FLOOD',
        'TOPIC_PROOF_MALFORMED',
        'TOPIC_LEAVE_FAILED',
        'UNKNOWN_ENCODING',
        'HANDSHAKE_FAILED',
        'HANDSHAKE_TIMEOUT',
        'REMOTE_KEY_MISMATCH',
        'CONNECTION_CLOSED',
        'DIAL_FAILED',
        'LISTEN_FAILED',
        'HANDSHAKE_LIMIT',
      ].sort(),
    )
    for (const [name, code] of Object.entries(ErrorCode)) expect(code).toBe(name)
  })

  it('travel on a real Error with name, code, message and cause', () => {
    const cause = new Error('below')
    const err = new NetworkerError(ErrorCode.ABORTED, 'stopped', { cause })
    expect(err).toBeInstanceOf(Error)
    expect(err).toMatchObject({ name: 'NetworkerError', code: 'ABORTED', message: 'stopped' })
    expect(err.cause).toBe(cause)
    const fromInfo = toError({ code: ErrorCode.FLUSH_FAILED, message: 'no flush' })
    expect(fromInfo).toBeInstanceOf(NetworkerError)
    expect(fromInfo).toMatchObject({ code: 'FLUSH_FAILED', message: 'no flush' })
  })
})

describe('keys', () => {
  const bytes = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 3)
  const hex = bytesToHex(bytes)

  it('accept 32 bytes or 64 hex characters of either case, and give lower-case hex', () => {
    expect(hex).toBe('030a11181f262d343b424950575e656c737a81888f969da4abb2b9c0c7ced5dc')
    expect(discoveryKeyToHex(bytes)).toBe(hex)
    expect(discoveryKeyToHex(Buffer.from(bytes))).toBe(hex)
    expect(discoveryKeyToHex(hex.toUpperCase())).toBe(hex)
    expect(publicKeyToHex(hex)).toBe(hex)
    expect(hexToBytes(hex)).toEqual(bytes)
  })

  it('read hex of either case back to the same bytes', () => {
    expect(hexToBytes(hex.toUpperCase())).toEqual(bytes)
    expect(hexToBytes('00ff0aA9')).toEqual(Uint8Array.from([0, 255, 10, 169]))
  })

  it('round-trip between bytes and hex', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (b) => {
        const h = bytesToHex(b)
        expect(h).toMatch(/^[0-9a-f]{64}$/)
        expect(hexToBytes(h)).toEqual(b)
      }),
    )
  })

  it('reject everything else, naming what was wrong, with the code of the key kind', () => {
    const cases: [unknown, string][] = [
      [new Uint8Array(31), 'discovery key must be 32 bytes, got 31'],
      [new Uint8Array(33), 'discovery key must be 32 bytes, got 33'],
      ['ab'.repeat(31), 'discovery key must be 64 hex characters, got a string of length 62'],
      [`${'ab'.repeat(31)}zz`, 'must be 64 hex characters, got a string of length 64'],
      [` ${'a'.repeat(64)}`, 'got a string of length 65'],
      [`${'a'.repeat(64)}\n`, 'got a string of length 65'],
      [null, 'must be a 32-byte Buffer/Uint8Array or a 64-character hex string, got null'],
      [undefined, 'got undefined'],
      [42, 'got number'],
      [[1, 2], 'got an array'],
      [{ length: 32 }, 'got an object'],
    ]
    for (const [value, message] of cases) {
      const refused = thrownBy(() => discoveryKeyToHex(value))
      expect(refused.message).toContain(message)
      expect(refused).toMatchObject({ code: 'INVALID_DISCOVERY_KEY' })
      expect(thrownBy(() => publicKeyToHex(value, 'remote key'))).toMatchObject({
        code: 'INVALID_PUBLIC_KEY',
      })
    }
    expect(thrownBy(() => publicKeyToHex(new Uint8Array(1))).message).toContain(
      'public key must be 32 bytes, got 1',
    )
    expect(thrownBy(() => discoveryKeyToHex(1, 'topic')).message).toMatch(/^topic must be/)
  })

  it('describe values without printing them', () => {
    expect(describeValue(null)).toBe('null')
    expect(describeValue([])).toBe('an array')
    expect(describeValue(new Uint8Array(5))).toBe('5 bytes')
    expect(describeValue({})).toBe('an object')
    expect(describeValue('secret')).toBe('string')
    expect(describeValue(undefined)).toBe('undefined')
  })

  it('compare in byte order', () => {
    expect(compareKeys('00'.repeat(32), 'ff'.repeat(32))).toBe(-1)
    expect(compareKeys('ff'.repeat(32), '00'.repeat(32))).toBe(1)
    expect(compareKeys(hex, hex)).toBe(0)
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (a, b) => {
          const bytewise = Buffer.compare(Buffer.from(a), Buffer.from(b))
          expect(compareKeys(bytesToHex(a), bytesToHex(b))).toBe(bytewise)
        },
      ),
    )
  })
})

describe('timer queue', () => {
  it('fires due timers in deadline order, ties in creation order, and only when advanced', () => {
    const q = new TimerQueue()
    const fired: string[] = []
    q.setTimeout(() => fired.push('b@20'), 20)
    q.setTimeout(() => fired.push('a@10'), 10)
    q.setTimeout(() => fired.push('c@20'), 20)
    q.setTimeout(() => fired.push('d@30'), 30)
    expect(q.size).toBe(4)
    expect(q.nextDeadline()).toBe(10)
    q.advance(9)
    expect(fired).toEqual([])
    q.advance(20)
    expect(fired).toEqual(['a@10', 'b@20', 'c@20'])
    expect(q.now()).toBe(20)
    expect(q.nextDeadline()).toBe(30)
    expect(q.size).toBe(1)
  })

  it('runs each timer at its own time, including timers set while firing', () => {
    const q = new TimerQueue()
    const seen: [string, number][] = []
    q.setTimeout(() => {
      seen.push(['first', q.now()])
      q.setTimeout(() => seen.push(['nested', q.now()]), 5)
    }, 10)
    q.advance(100)
    expect(seen).toEqual([
      ['first', 10],
      ['nested', 15],
    ])
    expect(q.now()).toBe(100)
    expect(q.nextDeadline()).toBeNull()
  })

  it('never goes back in time, treats negative delays as now, and cancels', () => {
    const q = new TimerQueue()
    q.advance(50)
    q.advance(40)
    expect(q.now()).toBe(50)
    let fired = 0
    q.setTimeout(() => fired++, -5)
    expect(q.nextDeadline()).toBe(50)
    const id = q.setTimeout(() => fired++, 1)
    q.clearTimeout(id)
    expect(q.size).toBe(1)
    q.advance(50)
    expect(fired).toBe(1)
    q.advance(60)
    expect(fired).toBe(1)
    expect(q.size).toBe(0)
  })
})

describe('timer queue against a model (property)', () => {
  type Op =
    | { kind: 'set'; ms: number }
    | { kind: 'clear'; pick: number }
    | { kind: 'advance'; by: number }
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), ms: fc.integer({ min: -3, max: 20 }) }),
    fc.record({ kind: fc.constant('clear' as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant('advance' as const), by: fc.nat({ max: 15 }) }),
  )

  it('fires exactly the uncancelled timers, each at its deadline, in (deadline, creation) order', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 200 }), (ops) => {
        const q = new TimerQueue()
        // The model: every timer ever set, with its deadline and whether it is still pending.
        const model: { name: number; at: number; pending: boolean }[] = []
        const handles: unknown[] = []
        const fired: [number, number][] = []
        let now = 0
        for (const op of ops) {
          if (op.kind === 'set') {
            const name = model.length
            model.push({ name, at: now + Math.max(0, op.ms), pending: true })
            handles.push(q.setTimeout(() => fired.push([name, q.now()]), op.ms))
          } else if (op.kind === 'clear') {
            if (handles.length === 0) continue
            const i = op.pick % handles.length
            q.clearTimeout(handles[i])
            ;(model[i] as { pending: boolean }).pending = false
          } else {
            now += op.by
            const due = model
              .filter((t) => t.pending && t.at <= now)
              .sort((a, b) => a.at - b.at || a.name - b.name)
            fired.length = 0
            q.advance(now)
            expect(fired).toEqual(due.map((t) => [t.name, t.at]))
            for (const t of due) t.pending = false
            expect(q.now()).toBe(now)
          }
          const pending = model.filter((t) => t.pending)
          expect(q.size).toBe(pending.length)
          expect(q.nextDeadline()).toBe(
            pending.length === 0 ? null : Math.min(...pending.map((t) => t.at)),
          )
        }
      }),
      { numRuns: 300 },
    )
  })

  it('ignores what is not a pending handle of its own', () => {
    const q = new TimerQueue()
    const other = new TimerQueue()
    let fired = 0
    const a = q.setTimeout(() => fired++, 5)
    const b = other.setTimeout(() => fired++, 5)
    for (const stray of [null, undefined, 7, {}, { index: 0 }, b]) q.clearTimeout(stray)
    expect(q.size).toBe(1)
    q.advance(5)
    expect(fired).toBe(1)
    // Already fired: clearing it again changes nothing, and a later timer is unaffected.
    const c = q.setTimeout(() => fired++, 1)
    q.clearTimeout(a)
    expect(q.size).toBe(1)
    q.clearTimeout(c)
    q.clearTimeout(c)
    expect(q.size).toBe(0)
  })
})
