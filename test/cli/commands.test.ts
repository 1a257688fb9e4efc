import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import crypto from 'hypercore-crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLI, ensureBuilt } from '../helpers/build.js'

const dir = mkdtempSync(join(tmpdir(), 'csn-cli-'))
const children: ChildProcess[] = []

beforeAll(() => ensureBuilt(), 120_000)
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
})

/** A long-running command; resolves each stdout line as it comes. */
function start(...args: string[]) {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  const lines: string[] = []
  let buffered = ''
  let stderr = ''
  const waiters: { test: (l: string) => boolean; resolve: (l: string) => void }[] = []
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk
    for (let i = buffered.indexOf('\n'); i >= 0; i = buffered.indexOf('\n')) {
      const line = buffered.slice(0, i)
      buffered = buffered.slice(i + 1)
      lines.push(line)
      for (const w of [...waiters]) {
        if (w.test(line)) {
          waiters.splice(waiters.indexOf(w), 1)
          w.resolve(line)
        }
      }
    }
  })
  child.stderr?.setEncoding('utf8').on('data', (c: string) => {
    stderr += c
  })
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  )
  return {
    child,
    lines,
    stderr: () => stderr,
    exited,
    line: (test: (l: string) => boolean) =>
      new Promise<string>((resolve) => {
        const found = lines.find(test)
        if (found !== undefined) resolve(found)
        else waiters.push({ test, resolve })
      }),
  }
}

const run = (...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8', timeout: 60_000 })

const json = (line: string) => JSON.parse(line) as Record<string, unknown>

describe('chainstore-networker commands in real processes', () => {
  it('puts a 5 MiB file in one process and gets it byte-identical in another', async () => {
    const testnet = start('testnet', '--json')
    const bootstrap = json(await testnet.line((l) => l.includes('"testnet"'))).bootstrap as string
    expect(bootstrap).toMatch(/^127\.0\.0\.1:\d+$/)

    const input = join(dir, 'input.bin')
    writeFileSync(input, randomBytes(5 * 1024 * 1024))
    const put = start('put', input, '--storage', join(dir, 'a'), '--bootstrap', bootstrap, '--json')
    const putEvent = json(await put.line((l) => l.includes('"put"')))
    expect(putEvent).toMatchObject({ event: 'put', blocks: 80, bytes: 5 * 1024 * 1024 })
    const key = putEvent.key as string
    expect(key).toMatch(/^[0-9a-f]{64}$/)
    await put.line((l) => l.includes('"seeding"'))

    const output = join(dir, 'output.bin')
    const get = start(
      'get',
      key,
      '--storage',
      join(dir, 'b'),
      '--out',
      output,
      '--bootstrap',
      bootstrap,
      '--json',
    )
    expect(await get.exited).toBe(0)
    const events = get.lines.map(json)
    expect(events.at(-1)).toMatchObject({
      event: 'complete',
      key,
      blocks: 80,
      bytes: 5 * 1024 * 1024,
    })
    expect(events.some((e) => e.event === 'progress')).toBe(true)
    expect(events.some((e) => e.event === 'peer-add')).toBe(true)
    const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex')
    expect(sha(output)).toBe(sha(input))

    // status sees what put wrote; seed serves it again from the same storage.
    put.child.kill('SIGINT')
    expect(await put.exited).toBe(0)
    const status = run('status', '--storage', join(dir, 'a'), '--json')
    expect(status.status).toBe(0)
    const statusEvent = json(status.stdout.trim())
    expect(statusEvent).toMatchObject({ event: 'status', cores: [{ key, blocks: 80 }] })
    // put's announcement is remembered in the storage, and restored by the next seed.
    const discoveryKey = crypto.discoveryKey(Buffer.from(key, 'hex')).toString('hex')
    expect(statusEvent.topics).toEqual([{ discoveryKey, key, announce: true, lookup: false }])

    const seed = start('seed', '--storage', join(dir, 'a'), '--bootstrap', bootstrap)
    await seed.line((l) => l.startsWith(`seeding ${key}`))
    expect(seed.lines.some((l) => l.startsWith('restored 1 remembered topic'))).toBe(true)
    // --live keeps following after the whole core is in, until SIGINT.
    const live = start(
      'get',
      key,
      '--storage',
      join(dir, 'c'),
      '--out',
      join(dir, 'again.bin'),
      '--bootstrap',
      bootstrap,
      '--live',
      '--json',
    )
    await live.line((l) => l.includes('"complete"'))
    live.child.kill('SIGINT')
    expect(await live.exited).toBe(0)
    expect(sha(join(dir, 'again.bin'))).toBe(sha(input))
    seed.child.kill('SIGTERM')
    expect(await seed.exited).toBe(0)
    expect(seed.lines.some((l) => l.startsWith('+ peer '))).toBe(true)

    testnet.child.kill('SIGINT')
    expect(await testnet.exited).toBe(0)
  })

  it('answers errors with one line and exit code 1, never a stack trace', () => {
    const cases: [string[], RegExp][] = [
      [['get', 'not-a-key', '--storage', join(dir, 'x')], /key must be 64 hex characters/],
      [['seed', '--storage', join(dir, 'missing')], /storage directory .* does not exist/],
      [['status', '--storage', join(dir, 'missing')], /does not exist/],
      [
        ['put', join(dir, 'no-such-file'), '--storage', join(dir, 'p')],
        /cannot read .*no such file/,
      ],
      [
        ['get', 'ab'.repeat(32), '--storage', join(dir, 'y'), '--bootstrap', '127.0.0.1:9'],
        /cannot reach 127\.0\.0\.1:9/,
      ],
      [
        ['get', 'ab'.repeat(32), '--storage', join(dir, 'y'), '--bootstrap', 'nonsense'],
        /--bootstrap wants host:port/,
      ],
      [['put', '--storage', join(dir, 'p')], /put needs a file/],
      [['frobnicate'], /unknown command/],
    ]
    for (const [args, message] of cases) {
      const r = run(...args)
      expect(r.status, args.join(' ')).toBe(1)
      expect(r.stderr).toMatch(message)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
      expect(r.stderr).not.toMatch(/\n\s+at /)
    }
  })

  it('has --help on every command, with examples', () => {
    const main = run('--help')
    expect(main.status).toBe(0)
    for (const cmd of ['demo', 'testnet', 'put', 'seed', 'get', 'status'])
      expect(main.stdout).toContain(cmd)
    expect(main.stdout).toContain('Examples:')
    for (const cmd of ['demo', 'testnet', 'put', 'seed', 'get', 'status', 'topics', 'forget']) {
      const r = run(cmd, '--help')
      expect(r.status).toBe(0)
      expect(r.stdout).toContain(`chainstore-networker ${cmd}`)
      expect(r.stdout).toContain('--bootstrap')
    }
  })
})
