import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Results } from '../../bench/report.js'
import { ensureBuilt, ROOT } from '../helpers/build.js'

// A quick bench is a smoke test: it must not overwrite the committed results, nor leave
// profile folders behind in the system's temp folder (here, a private one given as TMPDIR).
const tmp = mkdtempSync(join(tmpdir(), 'csn-bench-tmp-'))
beforeAll(() => ensureBuilt(), 120_000)
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

const hash = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex')

describe('npm run bench -- --quick, as shipped', () => {
  it('writes to a folder of its own with its profiles, and leaves bench/ and the temp folder alone', () => {
    const committed = ['RESULTS.md', 'results.json'].map((f) => join(ROOT, 'bench', f))
    const before = committed.map(hash)
    // core-dedup misses its goal even in quick mode, so the run profiles it.
    const run = spawnSync(
      process.execPath,
      ['--expose-gc', join(ROOT, 'dist', 'bench', 'run.js'), '--quick', '--only', 'core-dedup'],
      { cwd: ROOT, encoding: 'utf8', timeout: 120_000, env: { ...process.env, TMPDIR: tmp } },
    )
    expect(run.status, run.stderr).toBe(0)
    expect(committed.map(hash)).toEqual(before)
    const out = join(tmp, 'chainstore-networker-bench-quick')
    expect(readdirSync(tmp)).toEqual(['chainstore-networker-bench-quick'])
    expect(run.stdout).toContain(join(out, 'results.json'))
    expect(run.stdout).toContain('quick run: a smoke test')
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as Results
    expect(results.mode).toBe('quick')
    for (const p of results.profiles) expect(p.file.startsWith(join(out, 'profiles'))).toBe(true)
    expect(readFileSync(join(out, 'RESULTS.md'), 'utf8')).toContain(
      'Quick run: a smoke test that every benchmark runs',
    )
  }, 150_000)
})
