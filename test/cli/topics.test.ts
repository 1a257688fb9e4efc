import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import crypto from 'hypercore-crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureBuilt } from '../helpers/build.js'
import { events, expectOneLineError, json, runIn, startIn } from './cli-process.js'

// What each command remembers in a storage directory, and how the user sees and drops it:
// a plain get remembers nothing, seed and put remember what they announce, get --live what it
// follows; topics lists them, forget drops them, and restore never runs before the inputs are
// known to be good.
const dir = mkdtempSync(join(tmpdir(), 'csn-cli-topics-'))
const children: ChildProcess[] = []
const start = (args: string[]) => startIn(dir, children, args)
const run = (...args: string[]) => runIn(dir, args)
let bootstrap = ''
let key = ''
let discoveryKey = ''

beforeAll(async () => {
  ensureBuilt()
  const testnet = start(['testnet', '--nodes', '2', '--json'])
  bootstrap = json(await testnet.line((l) => l.includes('"testnet"'))).bootstrap as string
  writeFileSync(join(dir, 'input.bin'), randomBytes(200_000))
  const put = start(['put', 'input.bin', '--storage', 'a', '--bootstrap', bootstrap, '--json'])
  key = json(await put.line((l) => l.includes('"put"'))).key as string
  discoveryKey = crypto.discoveryKey(Buffer.from(key, 'hex')).toString('hex')
  await put.line((l) => l.includes('"seeding"'))
}, 120_000)
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
})

const topics = (storage: string) => {
  const r = run('topics', '--storage', storage, '--json')
  expect(r.status, r.stderr).toBe(0)
  return json(r.stdout.trim()).topics as Record<string, unknown>[]
}

describe('remembered topics, under the user’s control', () => {
  it('a plain get remembers nothing, failed or not, and a failed one leaves no empty core', () => {
    const ok = run('get', key, '--storage', 'b', '--out', 'b.bin', '--bootstrap', bootstrap)
    expect(ok.status, ok.stderr).toBe(0)
    expect(topics('b')).toEqual([])
    const unknown = randomBytes(32).toString('hex')
    const failed = run('get', unknown, '--storage', 'b', '--timeout', '1', '--bootstrap', bootstrap)
    expectOneLineError(failed, /no peer has core/)
    expect(topics('b')).toEqual([])
    const status = json(run('status', '--storage', 'b', '--json').stdout.trim())
    expect((status.cores as { key: string }[]).map((c) => c.key)).toEqual([key])
  })

  it('seed --key with a key the storage lacks fails before restoring anything', () => {
    // b remembers a topic first, so a restore would have something to say.
    const seed = start(['seed', '--storage', 'b', '--key', key, '--bootstrap', bootstrap])
    return seed
      .line((l) => l.startsWith('seeding'))
      .then(async () => {
        seed.child.kill('SIGINT')
        expect(await seed.exited).toBe(0)
        const r = run('seed', '--storage', 'b', '--key', 'cd'.repeat(32), '--bootstrap', bootstrap)
        expectOneLineError(r, /holds no core cdcd/)
        expect(r.stdout).not.toContain('restored')
      })
  })

  it('seed --key remembers its announcement; topics shows it; forget drops it for good', async () => {
    expect(topics('b')).toEqual([{ discoveryKey, key, announce: true, lookup: false }])
    const human = run('topics', '--storage', 'b')
    expect(human.stdout).toContain(`${key}  announce (served by seed)`)
    // The next seed, with no --key, serves it because it is remembered.
    const seed = start(['seed', '--storage', 'b', '--bootstrap', bootstrap, '--json'])
    await seed.line((l) => l.includes('"seeding"'))
    seed.child.kill('SIGINT')
    expect(await seed.exited).toBe(0)
    const seen = events(seed.stdout().toString())
    expect(seen[0]).toMatchObject({ event: 'restored', topics: 1, failed: 0 })
    expect(seen.find((e) => e.event === 'seeding')).toMatchObject({ key })

    const forgot = run('forget', key, '--storage', 'b', '--json')
    expect(forgot.status, forgot.stderr).toBe(0)
    expect(json(forgot.stdout.trim())).toMatchObject({ event: 'forgot', topics: [{ key }] })
    expect(topics('b')).toEqual([])
    expectOneLineError(run('forget', key, '--storage', 'b'), /remembers no topic for/)
    // Forgotten means not announced again: b wrote nothing itself, so there is nothing to seed.
    expectOneLineError(
      run('seed', '--storage', 'b', '--bootstrap', bootstrap),
      /nothing to seed: .* remembers no topics/,
    )
    // The data stays.
    expect(run('status', '--storage', 'b').stdout).toContain(`${key}  replica`)
  })

  it('get --live remembers its lookup, and the next seed follows the core', async () => {
    const live = start([
      'get',
      key,
      '--storage',
      'c',
      '--out',
      'c.bin',
      '--live',
      '--bootstrap',
      bootstrap,
      '--json',
    ])
    await live.line((l) => l.includes('"complete"'))
    live.child.kill('SIGINT')
    expect(await live.exited).toBe(0)
    expect(topics('c')).toEqual([{ discoveryKey, key, announce: false, lookup: true }])
    const seed = start(['seed', '--storage', 'c', '--bootstrap', bootstrap, '--json'])
    const following = json(await seed.line((l) => l.includes('"following"')))
    expect(following).toMatchObject({ event: 'following', key })
    seed.child.kill('SIGINT')
    expect(await seed.exited).toBe(0)
    // forget --all drops every record.
    expect(run('forget', '--all', '--storage', 'c').status).toBe(0)
    expect(topics('c')).toEqual([])
  })
})
