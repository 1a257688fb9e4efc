import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import crypto from 'hypercore-crypto'
import { Level } from 'level'
import { afterEach, describe, expect, it } from 'vitest'
import { Networker, type RecordStore } from '../../src/index.js'
import { hex } from '../helpers/assertions.js'
import { MemorySwarm } from '../helpers/memory-swarm.js'

/** The adapter docs/persistence.md shows: a Level database as the networker's record store. */
function levelRecords(db: Level<string, string>): RecordStore {
  return {
    get: (key) => db.get(key),
    put: (key, value) =>
      db.put(key, typeof value === 'string' ? value : Buffer.from(value).toString()),
    del: (key) => db.del(key),
    iterate: () => db.iterator(),
  }
}

const dirs: string[] = []
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true })
})

const store = { replicate() {} }

describe('persist with a Level database', () => {
  it('records every configure in Level and restores them after the database is reopened', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'csn-level-'))
    dirs.push(dir)
    const a = crypto.randomBytes(32)
    const b = crypto.randomBytes(32)

    let db = new Level<string, string>(dir, { valueEncoding: 'utf8' })
    const first = new Networker(store, { swarm: new MemorySwarm(), persist: levelRecords(db) })
    await first.configure(a, { announce: true, lookup: false })
    expect(await db.get(hex(a))).toBe('{"v":1,"announce":true,"lookup":false}')
    await first.configure(b)
    await first.configure(b, { announce: false, lookup: false })
    expect(await db.get(hex(b))).toBeUndefined()
    await first.configure(b, { lookup: false })
    await first.close()
    expect(db.status).toBe('open') // the caller's database stays open
    await db.close()

    db = new Level<string, string>(dir, { valueEncoding: 'utf8' })
    await db.put('not-a-topic', 'left by someone else')
    const second = new Networker(store, { swarm: new MemorySwarm(), persist: levelRecords(db) })
    const report = await second.restore()
    expect(report.restored.map((t) => [hex(t.discoveryKey), t.announce, t.lookup]).sort()).toEqual(
      [
        [hex(a), true, false],
        [hex(b), true, false],
      ].sort(),
    )
    expect(report.skipped.map((s) => [s.key, s.error.code])).toEqual([
      ['not-a-topic', 'RECORD_DAMAGED'],
    ])
    expect(second.joined(a) && second.joined(b)).toBe(true)
    await second.close()
    await db.close()
  })
})
