import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { CLI, ensureBuilt, ROOT } from '../helpers/build.js'

beforeAll(() => ensureBuilt(), 120_000)

const run = (...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 })

describe('chainstore-networker demo (npm start)', () => {
  it('replicates on an embedded testnet and prints a summary', () => {
    const r = run('demo', '--peers', '4', '--blocks', '120', '--json')
    expect(r.status).toBe(0)
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    const complete = events.filter((e) => e.event === 'complete')
    expect(complete.map((e) => e.node).sort()).toEqual(['reader-1', 'reader-2', 'reader-3'])
    expect(complete.every((e) => e.blocks === 120)).toBe(true)
    const summary = events.at(-1)!
    expect(summary).toMatchObject({ event: 'summary', peers: 4, blocks: 120, bytes: 120 * 4096 })
    expect(summary.allBlocksMs).toBeGreaterThanOrEqual(summary.firstBlockMs as number)
    // Timings to a tenth of a millisecond, not 13 digits of noise.
    for (const ms of [summary.firstBlockMs, summary.allBlocksMs, summary.totalMs])
      expect(String(ms)).toMatch(/^\d+(\.\d)?$/)
    expect(events.filter((e) => e.event === 'peer-add' && e.node === 'writer')).toHaveLength(3)
  })

  it('prints human output with a summary by default', () => {
    const r = run('demo', '--blocks', '20')
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/reader-2 +complete: 20 blocks verified/)
    expect(r.stdout).toMatch(/summary\n {2}networkers +3 \(1 writer, 2 readers\)/)
  })

  it('answers --help and turns bad arguments into one line and exit code 1', () => {
    const help = run('--help')
    expect(help.status).toBe(0)
    expect(help.stdout).toContain('chainstore-networker demo')
    for (const args of [
      ['demo', '--peers', 'x'],
      ['demo', '--peers', '1'],
      ['nonsense'],
      ['demo', '--bogus'],
    ]) {
      const r = run(...args)
      expect(r.status).toBe(1)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
      expect(r.stderr).toMatch(/^chainstore-networker: /)
      expect(r.stderr).not.toMatch(/at .*\.js:\d+/)
    }
  })

  it('runs the README extension example', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'examples', 'extension-chat.mjs')], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    })
    expect(r.status).toBe(0)
    expect(r.stdout).toContain('bob got {"text":"echo: hi alice"}')
  })
})
