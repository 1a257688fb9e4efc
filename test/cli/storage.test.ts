import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLI, ensureBuilt } from '../helpers/build.js'

const dir = mkdtempSync(join(tmpdir(), 'csn-cli-store-'))
const children: ChildProcess[] = []

beforeAll(() => ensureBuilt(), 120_000)
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
})

/** A long-running command: its stdout as lines and as bytes, its stderr, its exit code. */
function start(args: string[], stdin?: Buffer) {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: dir,
    stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  })
  children.push(child)
  if (stdin !== undefined) child.stdin?.end(stdin)
  const chunks: Buffer[] = []
  let stderr = ''
  child.stdout?.on('data', (c: Buffer) => chunks.push(c))
  child.stderr?.setEncoding('utf8').on('data', (c: string) => {
    stderr += c
  })
  const stdout = () => Buffer.concat(chunks)
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  )
  /** Resolves with the first stdout line matching, failing after `ms`. */
  const line = (test: (l: string) => boolean, ms = 20_000) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const found = stdout().toString('utf8').split('\n').find(test)
        if (found === undefined) return false
        clearTimeout(timer)
        child.stdout?.off('data', check)
        resolve(found)
        return true
      }
      const timer = setTimeout(
        () => reject(new Error(`no such line in ${args[0]} within ${ms} ms: ${stderr}`)),
        ms,
      )
      if (!check()) child.stdout?.on('data', check)
    })
  return { child, stdout, stderr: () => stderr, exited, line }
}

const run = (...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8', timeout: 30_000 })

function expectOneLineError(r: ReturnType<typeof run>, message: RegExp): void {
  expect(r.status, r.stderr).toBe(1)
  expect(r.stderr).toMatch(message)
  expect(r.stderr.trim().split('\n')).toHaveLength(1)
  expect(r.stderr).not.toMatch(/\n\s+at /)
}

describe('chainstore-networker storage commands', () => {
  it('puts stdin, gets to a clean stdout, reports what each store holds, seeds what it wrote', async () => {
    const testnet = start(['testnet', '--nodes', '2', '--json'])
    const bootstrap = (
      JSON.parse(await testnet.line((l) => l.includes('"testnet"'))) as {
        bootstrap: string
      }
    ).bootstrap
    // A --port already taken is refused, not silently moved.
    expectOneLineError(
      run('testnet', '--nodes', '1', '--port', bootstrap.split(':')[1] as string),
      /port \d+ on 127\.0\.0\.1 is in use/,
    )
    const a = join(dir, 'a')
    const b = join(dir, 'b')

    const input = randomBytes(300_000)
    const put = start(
      ['put', '-', '--storage', a, '--block-size', '4096', '--bootstrap', bootstrap, '--json'],
      input,
    )
    const putEvent = JSON.parse(await put.line((l) => l.includes('"put"'))) as Record<
      string,
      unknown
    >
    const key = putEvent.key as string
    expect(putEvent).toMatchObject({ blocks: Math.ceil(300_000 / 4096), bytes: 300_000 })
    await put.line((l) => l.includes('"seeding"'))

    // A running put holds the storage: a command that writes gets one line, not a lock
    // error; status only reads, so it works beside it.
    expectOneLineError(
      run('forget', '--all', '--storage', a),
      /storage .* is in use by another process/,
    )
    expect(run('status', '--storage', a).stdout).toContain(`${key}  written here`)

    // Content on stdout, every message on stderr: the bytes come out exactly.
    const get = start(['get', key, '--storage', b, '--bootstrap', bootstrap])
    expect(await get.exited).toBe(0)
    expect(get.stdout().equals(input)).toBe(true)
    expect(get.stderr()).toMatch(/complete: 74 blocks, .* length verified/)

    const replica = run('status', '--storage', b, '--json')
    expect(replica.status).toBe(0)
    expect(JSON.parse(replica.stdout)).toMatchObject({
      event: 'status',
      cores: [{ key, writable: false, blocks: 74, contiguousLength: 74, bytes: 300_000 }],
      // A plain get remembers nothing: no lookup is left behind for later commands.
      topics: [],
    })

    // b wrote nothing, and does not hold a core it never saw.
    expectOneLineError(
      run('seed', '--storage', b, '--bootstrap', bootstrap),
      /nothing to seed: .* has written no cores and remembers no topics/,
    )
    expectOneLineError(
      run('seed', '--storage', b, '--key', 'cd'.repeat(32), '--bootstrap', bootstrap),
      /holds no core cdcd/,
    )

    put.child.kill('SIGINT')
    expect(await put.exited).toBe(0)
    const written = run('status', '--storage', a)
    expect(written.status).toBe(0)
    expect(written.stdout).toContain(`${key}  written here  74 blocks`)
    expect(written.stdout).toMatch(
      new RegExp(`1 remembered topic\\(s\\), restored by seed and put:\\n +${key} {2}announce\\n`),
    )

    // With no --key, seed serves every core the store wrote.
    const seed = start(['seed', '--storage', a, '--bootstrap', bootstrap, '--json'])
    const seeding = JSON.parse(await seed.line((l) => l.includes('"seeding"'))) as Record<
      string,
      unknown
    >
    expect(seeding).toMatchObject({ event: 'seeding', key, blocks: 74, bytes: 300_000 })
    seed.child.kill('SIGTERM')
    expect(await seed.exited).toBe(0)

    testnet.child.kill('SIGINT')
    expect(await testnet.exited).toBe(0)
  })
})
