import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Results } from '../../bench/report.js'
import { ensureBuilt, ROOT } from '../helpers/build.js'

// A solo test (vitest's 'solo' project): the quick bench keeps both cores busy for most of a
// minute, which would starve the timing-sensitive tests of other files running beside it.
const BENCHMARKS = [
  'core-dedup',
  'extension-throughput',
  'broadcast',
  'observability',
  'scale',
  'end-to-end',
  'simulator',
]

describe('npm run bench -- --quick', () => {
  let out = ''
  beforeAll(() => {
    ensureBuilt()
    out = mkdtempSync(join(tmpdir(), 'csn-bench-quick-'))
  }, 120_000)
  afterAll(() => rmSync(out, { recursive: true, force: true }))

  // A smoke test: every benchmark runs and reports numbers; nothing is asserted about time.
  it('runs every benchmark and writes finite figures and ratios', () => {
    const run = spawnSync(
      process.execPath,
      [join(ROOT, 'dist', 'bench', 'run.js'), '--quick', '--out', out],
      { cwd: ROOT, encoding: 'utf8', timeout: 170_000 },
    )
    expect(run.status, run.stderr).toBe(0)
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as Results
    expect(results.mode).toBe('quick')
    expect(results.benchmarks.map((b) => b.name)).toEqual(BENCHMARKS)
    for (const b of results.benchmarks) {
      expect(b.rows.length, b.name).toBeGreaterThan(0)
      for (const row of b.rows) {
        for (const figure of [row.subject, row.baseline, row.ratio]) {
          expect(Number.isFinite(figure), `${b.name}: ${row.metric}`).toBe(true)
        }
      }
    }
    expect(results.machine.cores).toBeGreaterThan(0)
    for (const name of ['node', 'hyperswarm', 'corestore', 'protomux', 'xstate']) {
      expect(results.versions[name], name).toMatch(/^v?\d+\.\d+\.\d+/)
    }
    expect(results.versions['@hyperswarm/secret-stream']).toMatch(/^\d+\.\d+\.\d+/)
    const md = readFileSync(join(out, 'RESULTS.md'), 'utf8')
    expect(md).toContain('# Benchmark results')
    for (const b of results.benchmarks) expect(md).toContain(b.title)
  }, 180_000)
})
