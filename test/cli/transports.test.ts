import type { ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureBuilt } from '../helpers/build.js'
import { events, expectOneLineError, json, runIn, startIn } from './cli-process.js'

/*
 * The CLI's transports beyond the DHT, run as a user would: `--tcp <port>` on a seed and
 * `get --peer host:port` with no discovery at all; `--lan` with no DHT node answering (a
 * bootstrap nobody answers stands in for "no internet"), two processes meeting by mDNS; and
 * `demo --lan` / `demo --tcp`. Every mistake in the new flags is a one-line error.
 */

const dir = mkdtempSync(join(tmpdir(), 'csn-cli-transports-'))
const children: ChildProcess[] = []
// A bootstrap nobody answers: the machine has no internet, as far as the DHT can tell.
const NO_INTERNET = ['--bootstrap', '127.0.0.1:9']

beforeAll(() => ensureBuilt(), 120_000)
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
})

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

/** `put` a file of random bytes into `storage` and keep it seeding with `flags`. */
async function seeded(name: string, flags: string[]) {
  const content = randomBytes(300_000)
  const file = join(dir, `${name}.bin`)
  writeFileSync(file, content)
  const put = startIn(dir, children, [
    'put',
    file,
    '--storage',
    join(dir, name),
    '--block-size',
    '16384',
    '--json',
    ...flags,
  ])
  const key = json(await put.line((l) => l.includes('"event":"put"'), { ms: 30_000 })).key as string
  return { put, key, content }
}

describe('CLI transports', () => {
  it('get --peer fetches from a seed --tcp address with no discovery', async () => {
    const { put, key, content } = await seeded('tcp-seed', ['--tcp', '0', ...NO_INTERNET, '--lan'])
    const listening = json(await put.line((l) => l.includes('"event":"listening"')))
    const port = (listening.address as { port: number }).port
    expect(port).toBeGreaterThan(0)
    const out = join(dir, 'tcp-copy.bin')
    const get = runIn(
      dir,
      [
        'get',
        key,
        '--storage',
        join(dir, 'tcp-b'),
        '--peer',
        `127.0.0.1:${port}`,
        '--out',
        out,
        '--json',
      ],
      { timeout: 60_000 },
    )
    expect(get.status, get.stderr).toBe(0)
    expect(sha(readFileSync(out))).toBe(sha(content))
    const got = events(get.stderr + get.stdout)
    // No discovery: nothing was looked up, the only peer came over TCP from the address given.
    expect(got.find((e) => e.event === 'dht-unreachable')).toBeDefined()
    const added = got.filter((e) => e.event === 'peer-add')
    expect(added.length).toBeGreaterThan(0)
    for (const e of added) expect(e.type).toBe('tcp')
    put.child.kill('SIGINT')
    expect(await put.exited).toBe(0)
  }, 120_000)

  it('seed --lan and get --lan replicate with no DHT node answering', async () => {
    const { put, key, content } = await seeded('lan-seed', ['--lan', ...NO_INTERNET])
    // The put announced its core on the LAN; the seed-side stays up while get runs.
    await put.line((l) => l.includes('"event":"dht-unreachable"'))
    const out = join(dir, 'lan-copy.bin')
    const get = runIn(
      dir,
      [
        'get',
        key,
        '--storage',
        join(dir, 'lan-b'),
        '--lan',
        ...NO_INTERNET,
        '--out',
        out,
        '--json',
      ],
      { timeout: 60_000 },
    )
    expect(get.status, get.stderr).toBe(0)
    expect(sha(readFileSync(out))).toBe(sha(content))
    const added = events(get.stderr + get.stdout).filter((e) => e.event === 'peer-add')
    expect(added.map((e) => e.type)).toContain('tcp')
    put.child.kill('SIGINT')
    expect(await put.exited).toBe(0)
  }, 120_000)

  it('demo --lan replicates with no testnet, demo --tcp dials the writer straight', () => {
    const lan = runIn(dir, ['demo', '--lan', '--peers', '3', '--blocks', '20', '--json'], {
      timeout: 60_000,
    })
    expect(lan.status, lan.stderr).toBe(0)
    const lanEvents = events(lan.stdout)
    expect(lanEvents.find((e) => e.event === 'testnet')).toBeUndefined()
    expect(lanEvents.filter((e) => e.event === 'complete')).toHaveLength(2)
    expect(lanEvents.filter((e) => e.event === 'peer-add').map((e) => e.transport)).toContain('tcp')

    const tcp = runIn(dir, ['demo', '--tcp', '0', '--peers', '3', '--blocks', '20', '--json'], {
      timeout: 60_000,
    })
    expect(tcp.status, tcp.stderr).toBe(0)
    const tcpEvents = events(tcp.stdout)
    expect(tcpEvents.filter((e) => e.event === 'dialed')).toHaveLength(2)
    for (const e of tcpEvents.filter((e) => e.event === 'dialed')) expect(e.transport).toBe('tcp')
    expect(tcpEvents.filter((e) => e.event === 'complete')).toHaveLength(2)
  }, 120_000)

  it('a mistake in --tcp or --peer is a one-line error before anything is opened', () => {
    const storage = join(dir, 'never-made')
    for (const [args, message] of [
      [['seed', '--storage', storage, '--tcp', 'http'], /--tcp must be a whole number/],
      [['seed', '--storage', storage, '--tcp', '70000'], /--tcp must be at most 65535/],
      [
        ['get', 'ab'.repeat(32), '--storage', storage, '--peer', 'nohost'],
        /--peer wants host:port/,
      ],
      [['get', 'ab'.repeat(32), '--storage', storage, '--peer', 'h:0'], /--peer wants host:port/],
      [['seed', '--storage', storage, '--peer', 'h:1'], /seed does not take --peer/],
      [['testnet', '--lan'], /testnet does not take --lan/],
    ] as const) {
      expectOneLineError(runIn(dir, [...args]), message)
    }
    expect(() => readFileSync(storage)).toThrow()
  })

  it('a --tcp port in use is a one-line error', async () => {
    const { put } = await seeded('busy-seed', ['--tcp', '0', ...NO_INTERNET, '--lan'])
    const port = (
      json(await put.line((l) => l.includes('"event":"listening"'))).address as {
        port: number
      }
    ).port
    const other = runIn(dir, [
      'put',
      join(dir, 'busy-seed.bin'),
      '--storage',
      join(dir, 'busy-other'),
      '--tcp',
      String(port),
      ...NO_INTERNET,
      '--lan',
    ])
    expectOneLineError(other, new RegExp(`--tcp ${port}`))
    // Nothing left behind: the storage the failed put made is gone again.
    expect(() => readFileSync(join(dir, 'busy-other'))).toThrow(/ENOENT/)
    put.child.kill('SIGINT')
    await put.exited
  }, 60_000)
})
