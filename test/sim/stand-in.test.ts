import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { getStreamError } from 'streamx'
import { describe, expect, it } from 'vitest'
import {
  Link,
  Prng,
  runScale,
  runScenario,
  StandInSecretStream,
  VirtualClock,
} from '../../sim/index.js'
import { handshakeHash } from '../../sim/stand-in-stream.js'

/**
 * The simulator's own machinery: the stand-in for Noise that its wires run by default, its
 * clock's order, and the run at scale.
 */
function pair(clock = new VirtualClock()) {
  const link = new Link(7, clock, 3, 'sim:0', 'sim:1', 0, 1)
  const prng = new Prng(1)
  const keys = [prng.bytes(32), prng.bytes(32)] as const
  const a = new StandInSecretStream(true, link.a, { publicKey: keys[0], secretKey: prng.bytes(64) })
  const b = new StandInSecretStream(false, link.b, {
    publicKey: keys[1],
    secretKey: prng.bytes(64),
  })
  return { clock, link, keys, a, b }
}

describe('the stand-in secret stream', () => {
  it('opens both ends with swapped keys and one 64-byte handshake hash, as Noise does', async () => {
    const { clock, keys, a, b } = pair()
    const opened: string[] = []
    a.on('connect', () => opened.push(`a@${clock.now()}`))
    b.on('connect', () => opened.push(`b@${clock.now()}`))
    await clock.runUntil(100)
    // Three messages of 3 ms: the initiator opens on the second, the responder on the third.
    expect(opened).toEqual(['a@6', 'b@9'])
    expect(await a.opened).toBe(true)
    expect(await b.opened).toBe(true)
    expect(a.remotePublicKey).toEqual(keys[1])
    expect(b.remotePublicKey).toEqual(keys[0])
    expect(a.handshakeHash).toHaveLength(64)
    expect(a.handshakeHash).toEqual(b.handshakeHash)
    expect(a.rawStream).not.toBe(b.rawStream)
  })

  it('gives another link another handshake hash', async () => {
    const one = pair()
    const clock = new VirtualClock()
    const link = new Link(8, clock, 3, 'sim:0', 'sim:1', 0, 1)
    const other = new StandInSecretStream(true, link.a, {
      publicKey: one.keys[0],
      secretKey: new Uint8Array(64),
    })
    new StandInSecretStream(false, link.b, {
      publicKey: one.keys[1],
      secretKey: new Uint8Array(64),
    })
    await one.clock.runUntil(100)
    await clock.runUntil(100)
    expect(other.handshakeHash).not.toEqual(one.a.handshakeHash)
  })

  it("hashes the initiator's key, the responder's and the link's id with BLAKE2b-512", async () => {
    // The bytes a run's dedup order depends on: the same whatever computes them.
    const { clock, keys, link, a } = pair()
    await clock.runUntil(100)
    const id = Buffer.alloc(4)
    id.writeUInt32BE(link.id)
    const expected = createHash('blake2b512').update(keys[0]).update(keys[1]).update(id).digest()
    expect(a.handshakeHash).toEqual(expected)
  })

  it('hashes keys of any length and any link id as the three parts in turn', () => {
    // One hash over a reused buffer for 32-byte keys, the parts one by one otherwise: the
    // bytes are BLAKE2b-512 of the parts laid end to end either way.
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 40 }),
        fc.uint8Array({ minLength: 0, maxLength: 40 }),
        fc.nat({ max: 2 ** 32 - 1 }),
        (initiator, responder, link) => {
          const id = Buffer.alloc(4)
          id.writeUInt32BE(link)
          const expected = createHash('blake2b512')
            .update(initiator)
            .update(responder)
            .update(id)
            .digest()
          expect(handshakeHash(initiator, responder, link)).toEqual(expected)
        },
      ),
    )
    const key = (n: number) => new Uint8Array(32).fill(n)
    // The reused buffer holds nothing over from one hash to the next.
    const first = handshakeHash(key(1), key(2), 3)
    handshakeHash(key(4), key(5), 6)
    expect(handshakeHash(key(1), key(2), 3)).toEqual(first)
  })

  it('carries every write as one message, in order, both ways, counting raw bytes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 50 }), { maxLength: 10 }),
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 50 }), { maxLength: 10 }),
        async (fromA, fromB) => {
          const { clock, a, b } = pair()
          const atB: Uint8Array[] = []
          const atA: Uint8Array[] = []
          b.on('data', (d) => {
            atB.push(d as Uint8Array)
          })
          a.on('data', (d) => {
            atA.push(d as Uint8Array)
          })
          // Written before the handshake is done: held until the stream is open.
          for (const m of fromA) a.write(Buffer.from(m))
          for (const m of fromB) b.write(Buffer.from(m))
          await clock.runUntil(1000)
          expect(atB.map((d) => [...d])).toEqual(fromA.map((d) => [...d]))
          expect(atA.map((d) => [...d])).toEqual(fromB.map((d) => [...d]))
          // Counted as secret-stream puts them on the wire: 20 bytes of framing each.
          const bytes = (ms: Uint8Array[]) => ms.reduce((n, m) => n + m.byteLength + 20, 0)
          expect(a.rawBytesWritten).toBe(bytes(fromA))
          // The responder also read the handshake's first and third messages.
          expect(b.rawBytesRead).toBe(bytes(fromA) + 33 * 2)
        },
      ),
      { numRuns: 30 },
    )
  })

  it('closes with its wire, both ways, and reports a stream destroyed before it opened', async () => {
    const one = pair()
    await one.clock.runUntil(100)
    const closed: string[] = []
    one.a.on('close', () => closed.push('a'))
    one.b.on('close', () => closed.push('b'))
    one.a.destroy()
    await one.clock.runUntil(200)
    expect(closed.sort()).toEqual(['a', 'b'])

    const early = pair()
    early.b.destroy()
    await early.clock.runUntil(100)
    expect(await early.a.opened).toBe(false)
    expect(await early.b.opened).toBe(false)
  })

  it("is destroyed without a cause as streamx's own streams are: no error, a destroyed one inside", async () => {
    const { clock, link, a, b } = pair()
    await clock.runUntil(100)
    const errors: unknown[] = []
    for (const s of [a, b, link.a, link.b]) s.on('error', (err) => errors.push(err))
    a.destroy()
    await clock.runUntil(200)
    const streams = [a, b, link.a, link.b]
    expect(streams.map((s) => s.destroyed)).toEqual([true, true, true, true])
    expect(errors).toEqual([])
    for (const s of streams) {
      expect(getStreamError(s)).toBeNull()
      expect(getStreamError(s, { all: true })).toMatchObject({ code: 'STREAM_DESTROYED' })
    }
    // One cause made once, not one with a stack trace per destroy.
    expect(new Set(streams.map((s) => getStreamError(s, { all: true }))).size).toBe(1)
    // A cause given is kept.
    const other = pair()
    other.b.on('error', (err) => errors.push(err))
    other.b.destroy(new Error('given'))
    await other.clock.runUntil(100)
    expect(getStreamError(other.b)?.message).toBe('given')
    expect(errors).toEqual([getStreamError(other.b)])
  })

  it('sends a keep-alive as an empty message, which the other end hears', async () => {
    const { clock, a, b } = pair()
    await clock.runUntil(100)
    const heard = b.rawBytesRead
    const got: number[] = []
    b.on('data', (d) => {
      got.push((d as Uint8Array).byteLength)
    })
    a.sendKeepAlive()
    await clock.runUntil(200)
    expect(b.rawBytesRead).toBe(heard + 20)
    expect(got).toEqual([0])
  })

  it('ends its readable side when the other end ends its writable side', async () => {
    const { clock, a, b } = pair()
    let ended = false
    b.on('end', () => {
      ended = true
    })
    b.resume()
    a.end(undefined)
    await clock.runUntil(100)
    expect(ended).toBe(true)
  })

  it('is destroyed by a message that is not the handshake it expects', async () => {
    const { clock, link, b } = pair()
    const errors: string[] = []
    b.on('error', (err) => errors.push((err as Error).message))
    link.a.write(Buffer.from([9]))
    await clock.runUntil(100)
    expect(errors).toEqual(['stand-in handshake: unexpected message'])
    expect(b.destroyed).toBe(true)
  })
})

describe('the virtual clock', () => {
  it('runs tasks in (time, creation) order, skips cancelled ones, and counts the pending', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat({ max: 20 }), fc.boolean()), { maxLength: 60 }),
        async (tasks) => {
          const clock = new VirtualClock()
          const ran: number[] = []
          const handles = tasks.map(([delay], i) => clock.setTimeout(() => ran.push(i), delay))
          tasks.forEach(([, cancel], i) => {
            if (cancel) clock.clearTimeout(handles[i])
          })
          const kept = tasks
            .map(([delay, cancel], i) => ({ delay, cancel, i }))
            .filter((t) => !t.cancel)
          expect(clock.pending).toBe(kept.length)
          await clock.runUntil(100)
          expect(ran).toEqual(kept.sort((x, y) => x.delay - y.delay || x.i - y.i).map((t) => t.i))
          expect(clock.pending).toBe(0)
          expect(clock.nextAt()).toBeNull()
          // Cancelling what already ran changes nothing.
          for (const h of handles) clock.clearTimeout(h)
          expect(clock.pending).toBe(0)
        },
      ),
      { numRuns: 100 },
    )
  })
})

describe('runs', () => {
  it('with real Noise keep every invariant and replay exactly too', async () => {
    const opts = { seed: 11, peers: 4, topics: 2, steps: 30, realNoise: true }
    const first = await runScenario(opts)
    expect(await runScenario(opts)).toEqual(first)
  })

  it('at scale: every topic a full mesh at quiescence, everyone clean after close', async () => {
    const result = await runScale({ seed: 3, nodes: 14, topics: 3, joinOver: 500 })
    // 14 nodes over 3 topics: 5, 5 and 4 nodes, each topic a full mesh (checked pair by pair).
    expect(result.connections).toBe(10 + 10 + 6)
    expect(result.messagesDelivered).toBe(2 * result.connections)
    expect(await runScale({ seed: 3, nodes: 14, topics: 3, joinOver: 500 })).toEqual(result)
  })
})
