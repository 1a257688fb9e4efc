import { type ChildProcess, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLI, ensureBuilt } from '../helpers/build.js'
import { events, json, runIn, startIn } from './cli-process.js'

// Interrupted and cut-short commands, each run as the real command against a real local
// testnet: the exit code says whether the work was done, the output says how far it got,
// and nothing half-made is left behind.
const dir = mkdtempSync(join(tmpdir(), 'csn-cli-interrupts-'))
const children: ChildProcess[] = []
const start = (args: string[], opts?: { stdin?: Buffer | 'pipe' }) =>
  startIn(dir, children, args, opts)
const run = (...args: string[]) => runIn(dir, args)
let bootstrap = ''
let key = ''
const input = randomBytes(3 * 1024 * 1024)

beforeAll(async () => {
  ensureBuilt()
  const testnet = start(['testnet', '--nodes', '2', '--json'])
  bootstrap = json(await testnet.line((l) => l.includes('"testnet"'))).bootstrap as string
  writeFileSync(join(dir, 'input.bin'), input)
  const put = start(['put', 'input.bin', '--storage', 'a', '--bootstrap', bootstrap, '--json'])
  key = json(await put.line((l) => l.includes('"put"'))).key as string
  await put.line((l) => l.includes('"seeding"'))
}, 120_000)
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
})

describe('interrupted and cut-short commands', () => {
  it('put reports progress like get: JSON events before its key; plain output starts with the key', async () => {
    const put = start(['put', 'input.bin', '--storage', 'p', '--bootstrap', bootstrap, '--json'])
    await put.line((l) => l.includes('"seeding"'))
    put.child.kill('SIGINT')
    expect(await put.exited).toBe(0)
    const all = events(put.stdout().toString())
    const progress = all.filter((e) => e.event === 'progress')
    expect(progress.length).toBeGreaterThan(1)
    expect(progress.at(-1)).toMatchObject({
      blocks: 48,
      bytes: input.byteLength,
      of: input.byteLength,
    })
    expect(all.findIndex((e) => e.event === 'put')).toBeGreaterThan(all.indexOf(progress.at(-1)!))

    const plain = start(['put', 'input.bin', '--storage', 'p', '--bootstrap', bootstrap])
    expect(await plain.line((l) => l.length > 0)).toMatch(/^[0-9a-f]{64}$/)
    plain.child.kill('SIGINT')
    expect(await plain.exited).toBe(0)
  })

  it('get | head -c 10: a closed stdout ends get quietly with 141', () => {
    const r = spawnSync(
      'bash',
      [
        '-c',
        `set -o pipefail; "${process.execPath}" "${CLI}" get ${key} --storage h --bootstrap ${bootstrap} | head -c 10 | wc -c; echo "status \${PIPESTATUS[0]}"`,
      ],
      { cwd: dir, encoding: 'utf8', timeout: 60_000 },
    )
    expect(r.stdout).toMatch(/^10\nstatus 141\n$/)
    expect(r.stderr).not.toMatch(/EPIPE|Error|\n\s+at /)
  })

  it('Ctrl-C while get waits for a peer: exit 130, says nothing was fetched, leaves nothing', async () => {
    const unknown = randomBytes(32).toString('hex')
    const get = start([
      'get',
      unknown,
      '--storage',
      'w',
      '--out',
      'w.bin',
      '--bootstrap',
      bootstrap,
    ])
    await new Promise((r) => setTimeout(r, 2500))
    get.child.kill('SIGINT')
    expect(await get.exited).toBe(130)
    expect(get.stdout().toString()).toMatch(
      /^interrupted while looking for a peer with core [0-9a-f]{16}…: nothing fetched\n$/,
    )
    expect(existsSync(join(dir, 'w'))).toBe(false)
    expect(existsSync(join(dir, 'w.bin'))).toBe(false)
  })

  it('Ctrl-C mid-download: exit 130 with how far it got, no partial file; a rerun resumes', async () => {
    const big = randomBytes(24 * 1024 * 1024)
    writeFileSync(join(dir, 'big.bin'), big)
    const put = start([
      'put',
      'big.bin',
      '--storage',
      'big',
      '--block-size',
      '16384',
      '--bootstrap',
      bootstrap,
      '--json',
    ])
    const bigKey = json(await put.line((l) => l.includes('"put"'), { ms: 60_000 })).key as string
    await put.line((l) => l.includes('"seeding"'))
    const args = [
      'get',
      bigKey,
      '--storage',
      'r',
      '--out',
      'big-copy.bin',
      '--bootstrap',
      bootstrap,
    ]
    const get = start([...args, '--json'])
    await get.line((l) => /"progress","blocks":[1-9]/.test(l), { ms: 30_000 })
    get.child.kill('SIGINT')
    expect(await get.exited).toBe(130)
    const last = events(get.stdout().toString()).at(-1)
    expect(last).toMatchObject({ event: 'interrupted', key: bigKey, of: 1536 })
    expect(last?.blocks).toBeGreaterThan(0)
    expect(last?.blocks).toBeLessThanOrEqual(1536)
    // Only whole files appear under the --out name, and no partial file is left beside it.
    expect(readdirSync(dir).filter((f) => f.includes('big-copy'))).toEqual([])

    const again = run(...args, '--json')
    expect(again.status, again.stderr).toBe(0)
    const complete = events(again.stdout).at(-1)
    expect(complete).toMatchObject({ event: 'complete', blocks: 1536, bytes: big.byteLength })
    // It fetched only what the interrupted run had not.
    expect(complete?.downloaded).toBeLessThan(big.byteLength)
    expect(readFileSync(join(dir, 'big-copy.bin')).equals(big)).toBe(true)
    put.child.kill('SIGINT')
    expect(await put.exited).toBe(0)
  }, 120_000)

  it('Ctrl-C while put writes: exit 130, says so, and no core or storage is left', async () => {
    const put = start(['put', '-', '--storage', 'slow', '--bootstrap', bootstrap, '--json'], {
      stdin: 'pipe',
    })
    put.child.stdin?.write(randomBytes(200_000))
    // Past opening the network (about a second here), with stdin still open: mid-write.
    await new Promise((r) => setTimeout(r, 3000))
    put.child.kill('SIGINT')
    expect(await put.exited).toBe(130)
    expect(events(put.stdout().toString()).at(-1)).toMatchObject({ event: 'interrupted' })
    expect(existsSync(join(dir, 'slow'))).toBe(false)
  })

  it('a complete local copy: no transfer rate, JSON seconds rounded', () => {
    const first = run('get', key, '--storage', 'l', '--out', 'l1.bin', '--bootstrap', bootstrap)
    expect(first.status, first.stderr).toBe(0)
    expect(first.stdout).toMatch(/complete: 48 blocks, 3\.00 MiB in [\d.]+ s \([\d.]+ [KM]iB\/s\)/)
    const again = run('get', key, '--storage', 'l', '--out', 'l2.bin', '--bootstrap', bootstrap)
    expect(again.status, again.stderr).toBe(0)
    expect(again.stdout).toMatch(
      /complete: 48 blocks, 3\.00 MiB, all already in l, length verified/,
    )
    expect(again.stdout).not.toMatch(/\/s/)
    const j = run(
      'get',
      key,
      '--storage',
      'l',
      '--out',
      'l3.bin',
      '--bootstrap',
      bootstrap,
      '--json',
    )
    const done = events(j.stdout).at(-1) as Record<string, number>
    expect(done).toMatchObject({ event: 'complete', downloaded: 0 })
    expect(String(done.seconds)).toMatch(/^\d+(\.\d{1,3})?$/)
    expect(readFileSync(join(dir, 'l3.bin')).equals(input)).toBe(true)
  })
})
