import b4a from 'b4a'
import fc from 'fast-check'
import crypto from 'hypercore-crypto'
import { describe, expect, it, vi } from 'vitest'
import { ErrorCode, Networker, type NetworkerError, type SwarmLike } from '../../src/index.js'
import { decodeRecord, encodeRecord } from '../../src/io/record-store.js'
import { codeOf, hex } from '../helpers/assertions.js'
import { MemorySwarm } from '../helpers/memory-swarm.js'
import { thrownBy } from '../helpers/thrown.js'
import { MemoryRecords } from './fixtures/memory-records.js'

const store = { replicate() {} }
const make = (persist: MemoryRecords, swarm = new MemorySwarm()) =>
  new Networker(store, { swarm, persist })
const record = (announce: boolean, lookup: boolean) => JSON.stringify({ v: 1, announce, lookup })
const summary = (n: Networker) =>
  n
    .allStatuses()
    .map((s) => `${hex(s.discoveryKey).slice(0, 4)} ${s.announce} ${s.lookup} ${s.joined}`)
    .sort()

describe('record format', () => {
  it('round-trips every configuration that has a record', () => {
    for (const [announce, lookup] of [
      [true, true],
      [true, false],
      [false, true],
    ] as const) {
      const key = hex(crypto.randomBytes(32))
      expect(decodeRecord(key, encodeRecord({ announce, lookup }))).toEqual({
        ok: true,
        topic: key,
        config: { announce, lookup },
      })
      expect(decodeRecord(key, b4a.from(encodeRecord({ announce, lookup })))).toMatchObject({
        ok: true,
      })
    }
  })

  it('reports what is wrong with a record with a code, never a throw', () => {
    const key = 'ab'.repeat(32)
    const code = (k: unknown, v: unknown) => {
      const r = decodeRecord(k, v)
      return r.ok ? 'ok' : r.error.code
    }
    expect(code(key, '{"v":2,"announce":true,"lookup":true}')).toBe('RECORD_VERSION_UNKNOWN')
    expect(code(key, '{"v":1,"announce":"yes","lookup":true}')).toBe('RECORD_DAMAGED')
    expect(code(key, '{"v":1,"announce":false,"lookup":false}')).toBe('RECORD_DAMAGED')
    expect(code(key, '{"announce":true,"lookup":true}')).toBe('RECORD_DAMAGED')
    expect(code(key, '{"v":1,"announce":true,"lo')).toBe('RECORD_DAMAGED')
    expect(code(key, b4a.from([0xff, 0xfe, 0x00]))).toBe('RECORD_DAMAGED')
    expect(code(key, null)).toBe('RECORD_DAMAGED')
    expect(code(key, '[1,2]')).toBe('RECORD_DAMAGED')
    expect(code('AB'.repeat(32), record(true, true))).toBe('RECORD_DAMAGED')
    expect(code('not-a-topic', record(true, true))).toBe('RECORD_DAMAGED')
    expect(code(42, record(true, true))).toBe('RECORD_DAMAGED')
    expect(code(key, '{"v":1,"announce":true,"lookup":false,"later":"ignored"}')).toBe('ok')
  })

  it('never throws on arbitrary keys and values (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.uint8Array(), fc.anything()),
        fc.oneof(fc.string(), fc.uint8Array(), fc.json(), fc.anything()),
        (key, value) => {
          const r = decodeRecord(key, value)
          if (!r.ok) {
            expect([ErrorCode.RECORD_DAMAGED, ErrorCode.RECORD_VERSION_UNKNOWN]).toContain(
              r.error.code,
            )
          }
        },
      ),
      { numRuns: 500 },
    )
  })
})

describe('persist with a record store', () => {
  it('is off by default: restore() is refused and nothing is recorded', async () => {
    const networker = new Networker(store, { swarm: new MemorySwarm() })
    await networker.configure(crypto.randomBytes(32))
    expect(await codeOf(networker.restore())).toBe('INVALID_OPTION')
    await networker.close()
  })

  it('rejects a persist value that is neither a boolean nor a record store', () => {
    const swarm = new MemorySwarm()
    for (const persist of ['yes', 1, {}, { put() {}, del() {} }, null]) {
      expect(() => new Networker(store, { swarm, persist: persist as never })).toThrow(
        expect.objectContaining({ code: 'INVALID_OPTION' }),
      )
    }
    // persist: true needs a Corestore (namespace()); a bare replicate() is not enough.
    expect(thrownBy(() => new Networker(store, { swarm, persist: true })).message).toMatch(
      /namespace/,
    )
  })

  it('records a configure before its promise resolves, and a leave deletes the record', async () => {
    const records = new MemoryRecords()
    records.delay = 30
    const networker = make(records)
    const dk = crypto.randomBytes(32)
    let resolved = false
    const pending = networker.configure(dk, { announce: true, lookup: false }).then(() => {
      resolved = true
      return records.data.get(hex(dk))
    })
    await new Promise((r) => setTimeout(r, 5))
    expect(resolved).toBe(false) // the swarm is instant; the record write is not yet done
    expect(await pending).toBe(record(true, false))
    await networker.configure(dk, { announce: false, lookup: false })
    expect(records.data.has(hex(dk))).toBe(false)
    await networker.close()
  })

  it('restores every recorded configuration after a restart, and allStatuses shows them before', async () => {
    const records = new MemoryRecords()
    const first = make(records)
    const a = crypto.randomBytes(32)
    const b = crypto.randomBytes(32)
    const gone = crypto.randomBytes(32)
    await first.configure(a, { announce: true, lookup: false })
    await first.configure(b, { announce: false, lookup: true })
    await first.configure(gone)
    await first.configure(gone, { announce: false, lookup: false })
    await first.close()
    // close() leaves every topic but keeps the records: they are what a restart restores.
    expect(records.data.size).toBe(2)

    const swarm = new MemorySwarm()
    const join = vi.spyOn(swarm as SwarmLike, 'join')
    const flush = vi.spyOn(swarm as SwarmLike, 'flush')
    const second = make(records, swarm)
    await vi.waitFor(() => expect(second.allStatuses()).toHaveLength(2))
    const short = (k: Buffer) => hex(k).slice(0, 4)
    expect(summary(second)).toEqual(
      [`${short(a)} true false false`, `${short(b)} false true false`].sort(),
    )
    expect(second.status(a)).toMatchObject({ announce: true, lookup: false, joined: false })
    expect(second.joined(a)).toBe(false)

    const report = await second.restore()
    expect(report.restored.map((t) => hex(t.discoveryKey)).sort()).toEqual([hex(a), hex(b)].sort())
    expect(report).toMatchObject({ failed: [], kept: [], skipped: [], error: null })
    // Joined again, and by default without asking the swarm for a flush (restore({ flush: true })
    // does: see below).
    expect(second.joined(a) && second.joined(b)).toBe(true)
    expect(flush).not.toHaveBeenCalled()
    expect(join.mock.calls.map(([t, o]) => [hex(t), o]).sort()).toEqual(
      [
        [hex(a), { server: true, client: false }],
        [hex(b), { server: false, client: true }],
      ].sort(),
    )
    expect(summary(second)).toEqual(
      [`${short(a)} true false true`, `${short(b)} false true true`].sort(),
    )
    // Re-applying an unchanged configuration writes nothing.
    const writes = records.log.length
    await second.restore()
    expect(records.log.length).toBe(writes)
    await second.close()
  })

  it('restore() resolves once joined even when a flush hangs; restore({ flush: true }) waits for it', async () => {
    const records = new MemoryRecords()
    const a = crypto.randomBytes(32)
    const b = crypto.randomBytes(32)
    records.data.set(hex(a), record(true, false))
    records.data.set(hex(b), record(false, true))

    // A flush waits for dials to every peer that announced a topic, dead ones included: a
    // restart must not wait for that unless asked to.
    const hanging = new MemorySwarm()
    hanging.hangFlush = true
    const first = make(records, hanging)
    const report = await first.restore()
    expect(report.restored.map((t) => hex(t.discoveryKey)).sort()).toEqual([hex(a), hex(b)].sort())
    expect(report.failed).toEqual([])
    expect(first.joined(a) && first.joined(b)).toBe(true)
    expect(first.flushed(a) || first.flushed(b)).toBe(false)
    await first.close()

    const stillHanging = new MemorySwarm()
    stillHanging.hangFlush = true
    const second = make(records, stillHanging)
    const cut = await second.restore({ flush: true, timeout: 50 })
    expect(cut.restored).toEqual([])
    expect(cut.failed.map((f) => (f.error as NetworkerError).code)).toEqual([
      'FLUSH_TIMEOUT',
      'FLUSH_TIMEOUT',
    ])
    await second.close()

    const third = make(records)
    const flushed = await third.restore({ flush: true })
    expect(flushed.restored).toHaveLength(2)
    expect(third.flushed(a) && third.flushed(b)).toBe(true)
    await third.close()
  })

  it('restore() keeps a configuration made in this process before it ran', async () => {
    const records = new MemoryRecords()
    const dk = crypto.randomBytes(32)
    records.data.set(hex(dk), record(true, true))
    const networker = make(records)
    const leaving = networker.configure(dk, { announce: false, lookup: false })
    const report = await networker.restore()
    await leaving
    expect(report.restored).toEqual([])
    expect(networker.joined(dk)).toBe(false)
    expect(records.data.has(hex(dk))).toBe(false)
    expect(networker.allStatuses()).toEqual([])

    // And one made after restore() started but before it dispatched wins too (call order).
    const other = crypto.randomBytes(32)
    records.data.set(hex(other), record(true, true))
    await networker.close()
    const again = make(records)
    const restoring = again.restore()
    await again.configure(other, { announce: false, lookup: true })
    const r2 = await restoring
    expect(r2.kept.map((t) => hex(t.discoveryKey))).toEqual([hex(other)])
    expect(again.status(other)).toMatchObject({ announce: false, lookup: true })
    expect(records.data.get(hex(other))).toBe(record(false, true))
    await again.close()
  })

  it('concurrent configures on one key: the last call is the one recorded (property)', async () => {
    const keys = [crypto.randomBytes(32), crypto.randomBytes(32)]
    const config = fc.record({
      key: fc.integer({ min: 0, max: 1 }),
      announce: fc.boolean(),
      lookup: fc.boolean(),
      wait: fc.boolean(),
    })
    await fc.assert(
      fc.asyncProperty(
        fc.array(config, { minLength: 1, maxLength: 12 }),
        fc.integer(),
        async (calls, seed) => {
          const records = new MemoryRecords()
          let s = seed
          records.delay = () => {
            s = (s * 1103515245 + 12345) & 0x7fffffff
            return s % 4
          }
          const networker = make(records)
          const last = new Map<number, { announce: boolean; lookup: boolean }>()
          const pending: Promise<void>[] = []
          for (const c of calls) {
            pending.push(networker.configure(keys[c.key]!, c))
            last.set(c.key, { announce: c.announce, lookup: c.lookup })
            if (c.wait) await pending[pending.length - 1]
          }
          const results = await Promise.allSettled(pending)
          expect(results.every((r) => r.status === 'fulfilled')).toBe(true)
          for (const [k, c] of last) {
            const stored = records.data.get(hex(keys[k]!))
            expect(stored).toBe(c.announce || c.lookup ? record(c.announce, c.lookup) : undefined)
            // A topic left with nothing pending (and no record) is forgotten.
            if (c.announce || c.lookup) {
              expect(networker.status(keys[k]!)).toMatchObject({
                announce: c.announce,
                lookup: c.lookup,
              })
            } else {
              expect(networker.status(keys[k]!)).toBeNull()
            }
          }
          await networker.close()
          const restarted = make(records)
          await restarted.restore()
          for (const [k, c] of last) {
            const s = restarted.status(keys[k]!)
            if (c.announce || c.lookup) expect(s).toMatchObject({ ...c, joined: true })
            else expect(s).toBeNull()
          }
          await restarted.close()
        },
      ),
      { numRuns: 60 },
    )
  })

  it('skips and reports damaged and unknown-version records, restores the rest, never fails', async () => {
    const records = new MemoryRecords()
    const good = hex(crypto.randomBytes(32))
    const future = hex(crypto.randomBytes(32))
    const broken = hex(crypto.randomBytes(32))
    records.data.set(good, record(true, false))
    records.data.set(future, JSON.stringify({ v: 7, whatever: true }))
    records.data.set(broken, '{"v":1,"announce":tr')
    records.data.set('some-other-key', record(true, true))
    const networker = make(records)
    const reported: { code: string; key: string }[] = []
    networker.on('record-skipped', (err: NetworkerError, { key }) =>
      reported.push({ code: err.code, key }),
    )
    const report = await networker.restore()
    expect(report.restored.map((t) => hex(t.discoveryKey))).toEqual([good])
    const expected = [
      { code: 'RECORD_VERSION_UNKNOWN', key: future },
      { code: 'RECORD_DAMAGED', key: broken },
      { code: 'RECORD_DAMAGED', key: 'some-other-key' },
    ]
    expect(reported).toEqual(expected)
    expect(report.skipped.map((s) => ({ code: s.error.code, key: s.key }))).toEqual(expected)
    expect(report.error).toBeNull()
    // Skipped records stay (a newer release may read them) until the topic is configured again.
    expect(records.data.get(future)).toBe(JSON.stringify({ v: 7, whatever: true }))
    await networker.configure(future, { announce: false, lookup: false })
    await networker.configure(broken, { announce: true, lookup: true })
    expect(records.data.has(future)).toBe(false)
    expect(records.data.get(broken)).toBe(record(true, true))
    await networker.close()
  })

  it('a failing store rejects configure with PERSIST_FAILED and reports it; the networker goes on', async () => {
    const records = new MemoryRecords()
    const networker = make(records)
    const errors: string[] = []
    networker.on('persist-error', (err) => errors.push(err.code))
    const dk = crypto.randomBytes(32)
    records.failWrites = true
    expect(await codeOf(networker.configure(dk))).toBe('PERSIST_FAILED')
    expect(errors).toEqual(['PERSIST_FAILED'])
    expect(networker.joined(dk)).toBe(true) // in effect here; just not remembered
    records.failWrites = false
    await networker.configure(dk, { announce: true, lookup: false })
    expect(records.data.get(hex(dk))).toBe(record(true, false))
    // After a failed write the next one is made even if it looks unchanged.
    records.failWrites = true
    expect(await codeOf(networker.configure(dk, { announce: false, lookup: false }))).toBe(
      'PERSIST_FAILED',
    )
    records.failWrites = false
    await networker.configure(dk, { announce: false, lookup: false })
    expect(records.data.has(hex(dk))).toBe(false)
    await networker.close()
  })

  it('a store that cannot be read is reported; restore resolves with what it read', async () => {
    const records = new MemoryRecords()
    records.data.set(hex(crypto.randomBytes(32)), record(true, true))
    records.failIterate = true
    const networker = make(records)
    const errors: string[] = []
    networker.on('persist-error', (err) => errors.push(err.code))
    const report = await networker.restore()
    expect(report.error?.code).toBe('PERSIST_FAILED')
    expect(report.restored).toEqual([])
    expect(errors).toEqual(['PERSIST_FAILED'])
    // Writes still go to the store, and a leave deletes even a record it could not read.
    records.failIterate = false
    const [key] = [...records.data.keys()]
    await networker.configure(key!, { announce: false, lookup: false })
    expect(records.data.size).toBe(0)
    await networker.close()
  })

  it('close() lets queued writes finish, leaves the store open, and records nothing after', async () => {
    const records = new MemoryRecords()
    records.delay = 20
    const networker = make(records)
    const dk = crypto.randomBytes(32)
    const pending = codeOf(networker.configure(dk))
    await networker.close()
    expect(await pending).toMatch(/resolved|NETWORKER_CLOSED/)
    expect(records.data.get(hex(dk))).toBe(record(true, true))
    expect(await codeOf(networker.configure(crypto.randomBytes(32)))).toBe('NETWORKER_CLOSED')
    expect(await codeOf(networker.restore())).toBe('NETWORKER_CLOSED')
    expect(records.data.size).toBe(1)
    // The store is the caller's: still usable, and a new networker may take it over.
    const next = make(records)
    expect((await next.restore()).restored).toHaveLength(1)
    await next.close()
  })

  it('close({ timeout }) resolves in time even when the record store hangs', async () => {
    const records = new MemoryRecords()
    const networker = make(records)
    await networker.restore()
    records.delay = 60_000
    const pending = codeOf(networker.configure(crypto.randomBytes(32)))
    const started = Date.now()
    const report = await networker.close({ timeout: 100 })
    expect(Date.now() - started).toBeLessThan(1000)
    expect(await pending).toBe('NETWORKER_CLOSED')
    expect(report.unannounced).toEqual([])
  })

  it('refuses a second open networker persisting to the same store', async () => {
    const records = new MemoryRecords()
    const first = make(records)
    expect(() => make(records)).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }))
    await first.close()
    const second = make(records)
    await second.close()
  })
})
