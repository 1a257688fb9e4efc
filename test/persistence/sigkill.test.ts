import { type ChildProcess, spawn } from 'node:child_process'
import { statSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureBuilt, ROOT } from '../helpers/build.js'

/*
 * Durability under SIGKILL: a child process (fixtures/kill-child.mjs, on the built package)
 * restores from a storage directory, then configures topics at random, printing each call
 * before it is made ("I seq topic config") and once it has resolved ("A seq"). We kill it at
 * a random moment — while it starts and restores, or in the middle of its configures — and
 * the next child's restore shows what survived. Record writes are queued in call order, so
 * once "A m" is printed every call up to m is on disk. For each topic the restored
 * configuration must be the one of its last call at or before m (or what the run started
 * with, if it had none), or that of a call after m that was in flight at the kill; nothing
 * else, no record skipped as damaged, no store error, no crash.
 */

const CHILD = join(ROOT, 'test', 'persistence', 'fixtures', 'kill-child.mjs')
const NONE = '00' // a left topic: no record

const seed = Number(process.env.KILL_SEED) || Date.now() % 1_000_000_007
let state = seed
const random = (): number => {
  state = (Math.imul(state, 1664525) + 1013904223) >>> 0
  return state / 2 ** 32
}

interface ChildRun {
  lines: string[]
  stderr: string
  signal: NodeJS.Signals | null
  code: number | null
}

function runChild(
  dir: string,
  backend: string,
  killAfter: 'never' | 'start' | 'ready',
): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(
      process.execPath,
      [
        CHILD,
        dir,
        backend,
        String(Math.floor(random() * 2 ** 31)),
        ...(killAfter === 'never' ? ['check'] : []),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    const lines: string[] = []
    let partial = ''
    let stderr = ''
    let timer: NodeJS.Timeout | null = null
    const kill = (ms: number) => {
      timer = setTimeout(() => child.kill('SIGKILL'), ms)
    }
    if (killAfter === 'start') kill(random() * 500)
    child.stdout!.setEncoding('utf8')
    child.stdout!.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n')
      partial = parts.pop()!
      for (const line of parts) {
        lines.push(line)
        if (line === 'READY' && killAfter === 'ready') kill(random() * 80)
      }
    })
    child.stderr!.setEncoding('utf8')
    child.stderr!.on('data', (chunk: string) => {
      stderr += chunk
    })
    child.on('error', reject)
    child.on('close', (code, signal) => {
      if (timer !== null) clearTimeout(timer)
      // A torn last line (killed mid-write) is not a printed line.
      resolve({ lines, stderr, signal, code })
    })
  })
}

/** topic → the configurations the records may hold after this run. */
type Allowed = Map<string, Set<string>>

function allowedAfter(start: Map<string, string>, lines: string[]): Allowed {
  const issued: { seq: number; topic: string; config: string }[] = []
  let lastAcked = -1
  for (const line of lines) {
    const [kind, a, b, c] = line.split(' ')
    if (kind === 'I') issued.push({ seq: Number(a), topic: b!, config: c! })
    if (kind === 'A') lastAcked = Math.max(lastAcked, Number(a))
  }
  const allowed: Allowed = new Map()
  for (const topic of new Set([...start.keys(), ...issued.map((i) => i.topic)])) {
    const calls = issued.filter((i) => i.topic === topic)
    const done = calls.filter((i) => i.seq <= lastAcked).at(-1)
    const set = new Set([done?.config ?? start.get(topic) ?? NONE])
    for (const i of calls) if (i.seq > lastAcked) set.add(i.config)
    allowed.set(topic, set)
  }
  return allowed
}

async function killLoop(backend: string, kills: number): Promise<{ kills: number; acked: number }> {
  const dir = await mkdtemp(join(tmpdir(), `csn-kill-${backend}-`))
  const storage = join(dir, 'storage')
  let allowed: Allowed = new Map()
  let killed = 0
  let acked = 0
  const where = (run: number) => `(${backend}, run ${run}, KILL_SEED=${seed})`
  try {
    for (let run = 0; run <= kills; run++) {
      const last = run === kills
      const result = await runChild(
        storage,
        backend,
        last ? 'never' : random() < 0.15 ? 'start' : 'ready',
      )
      if (last) expect(result.code, `${where(run)} ${result.stderr}`).toBe(0)
      else
        expect(result.signal, `${where(run)} exited on its own: ${result.stderr}`).toBe('SIGKILL')
      if (!last) killed++
      const problems = result.lines.filter((l) => l.startsWith('S ') || l.startsWith('E '))
      expect(problems, where(run)).toEqual([])
      if (!result.lines.includes('READY')) continue // killed while restoring: no call was made
      const restored = new Map<string, string>()
      for (const line of result.lines.slice(0, result.lines.indexOf('READY'))) {
        const [kind, topic, config] = line.split(' ')
        if (kind === 'R') restored.set(topic!, config!)
      }
      for (const topic of new Set([...allowed.keys(), ...restored.keys()])) {
        const got = restored.get(topic) ?? NONE
        const may = allowed.get(topic) ?? new Set([NONE])
        expect(
          may.has(got),
          `${where(run)} topic ${topic.slice(-2)} restored ${got}, allowed ${[...may]}`,
        ).toBe(true)
      }
      allowed = allowedAfter(restored, result.lines)
      acked += result.lines.filter((l) => l.startsWith('A ')).length
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
  return { kills: killed, acked }
}

describe('records survive SIGKILL at random moments', () => {
  beforeAll(() => {
    try {
      ensureBuilt()
    } catch {
      // tsc exits non-zero on type errors in files being edited elsewhere; it still emits.
    }
    for (const file of ['networker', 'io/remembered-config', 'io/record-store']) {
      const built = statSync(join(ROOT, 'dist', 'src', `${file}.js`)).mtimeMs
      expect(built).toBeGreaterThanOrEqual(statSync(join(ROOT, 'src', `${file}.ts`)).mtimeMs)
    }
  }, 120_000)

  const totals = { kills: 0, acked: 0 }
  afterAll(() => {
    console.log(
      `SIGKILL test: ${totals.kills} kills, ${totals.acked} acknowledged configures, KILL_SEED=${seed}`,
    )
  })

  it('the default store (a Hyperbee in the Corestore): 50 kills', async () => {
    const r = await killLoop('corestore', 50)
    totals.kills += r.kills
    totals.acked += r.acked
    expect(r.kills).toBe(50)
    expect(r.acked).toBeGreaterThan(100)
  }, 120_000)

  it('a Level record store: 15 kills', async () => {
    const r = await killLoop('level', 15)
    totals.kills += r.kills
    totals.acked += r.acked
    expect(r.kills).toBe(15)
  }, 60_000)
})
