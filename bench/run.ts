import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { FULL, QUICK } from './harness.js'
import { runNodeChild } from './node-child.js'
import { type ProfileSummary, profileCase } from './profile.js'
import { countGoals, machine, type Results, table, versions, write } from './report.js'
import { ROOT } from './root.js'
import { BENCHMARKS } from './suites.js'
import type { BenchmarkResult } from './types.js'

// Quick runs never overwrite the committed bench/RESULTS.md: they write here unless --out says.
const QUICK_OUT = join(tmpdir(), 'chainstore-networker-bench-quick')

const USAGE = `usage: npm run bench -- [--quick] [--only <name>[,<name>…]] [--out <dir>] [--no-profile] [--render]
  Runs every benchmark against its baseline, prints a table, and writes results.json and
  RESULTS.md (default: bench/). --quick runs everything briefly (a smoke test, figures
  meaningless) and writes to ${QUICK_OUT} (replaced each time) unless --out is given, with
  its CPU profiles beside them; --render only rewrites RESULTS.md from an existing
  results.json. Benchmarks: ${BENCHMARKS.map((b) => b.name).join(', ')}.`

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      out: { type: 'string' },
      'no-profile': { type: 'boolean', default: false },
      render: { type: 'boolean', default: false },
      // Internal: run the one benchmark named by --only and write its result to this file.
      child: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  const only = values.only?.split(',').map((s) => s.trim())
  const unknown = only?.filter((name) => !BENCHMARKS.some((b) => b.name === name)) ?? []
  if (unknown.length > 0) {
    process.stderr.write(`bench: unknown benchmark ${unknown.join(', ')}\n${USAGE}\n`)
    return 2
  }
  const outDir = resolve(
    values.out ?? (values.quick && !values.render ? QUICK_OUT : join(ROOT, 'bench')),
  )
  if (values.render) {
    // Re-renders RESULTS.md from the stored results (after a reading was edited): no new figures.
    const stored = JSON.parse(await readFile(join(outDir, 'results.json'), 'utf8')) as Results
    await write(outDir, stored)
    process.stdout.write(`rewrote ${join(outDir, 'RESULTS.md')} from results.json\n`)
    return 0
  }
  const quick = values.quick
  if (values.child !== undefined) return runChild(only, quick, values.child)
  // The default quick folder holds one run: the previous run's files go first.
  if (quick && values.out === undefined) await rm(outDir, { recursive: true, force: true })
  const selected = BENCHMARKS.filter((b) => only === undefined || only.includes(b.name))
  const loadAtStart = loadavg()[0] ?? 0
  const started = performance.now()

  const results: BenchmarkResult[] = []
  for (const bench of selected) {
    process.stderr.write(`bench: ${bench.name}…\n`)
    const result = await inChild(bench.name, quick)
    results.push(result)
    process.stderr.write(`${table([result])}\n\n`)
  }

  // Profile each workload behind a missed goal once; quick mode only proves the path works.
  const profiles: ProfileSummary[] = []
  const cases = [
    ...new Set(
      results.flatMap((b) =>
        b.rows
          .filter((r) => r.goal !== null && !r.goal.met && r.profile !== undefined)
          .map((r) => `${b.name}/${r.profile}`),
      ),
    ),
  ]
  const toProfile = values['no-profile'] ? [] : quick ? cases.slice(0, 1) : cases
  for (const c of toProfile) {
    const [bench, name] = c.split('/') as [string, string]
    process.stderr.write(`bench: profiling ${c}…\n`)
    const profile = await profileCase(bench, name, quick)
    // A quick run leaves nothing in the system's temp folder: its profile joins its results.
    profiles.push(quick ? await keepWith(outDir, profile) : profile)
  }

  const all: Results = {
    generated: new Date().toISOString(),
    mode: quick ? 'quick' : 'full',
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    wallSeconds: (performance.now() - started) / 1000,
    machine: machine(loadAtStart),
    versions: versions(),
    goals: countGoals(results),
    benchmarks: results,
    profiles,
  }
  await write(outDir, all)
  process.stdout.write(`${table(results)}\n\n`)
  process.stdout.write(
    `goals: ${all.goals.met} met, ${all.goals.missed} missed; wrote ${join(outDir, 'results.json')} and RESULTS.md\n`,
  )
  if (quick) process.stdout.write('quick run: a smoke test; its figures are not measurements\n')
  return 0
}

/**
 * Runs one benchmark in a process of its own and returns its result. In one process, a
 * benchmark ran on whatever the ones before it left: a heap grown by 100,000 topics, code
 * compiled for other workloads. The simulator's 50-peer figure was 1,320–1,754x there and
 * 2,032x alone, minutes apart on an idle machine. Alone, each figure is its workload's own.
 */
async function inChild(name: string, quick: boolean): Promise<BenchmarkResult> {
  const dir = await mkdtemp(join(tmpdir(), 'csn-bench-suite-'))
  const file = join(dir, 'result.json')
  const args = ['--only', name, '--child', file, ...(quick ? ['--quick'] : [])]
  try {
    await runNodeChild(fileURLToPath(import.meta.url), args, name)
    return JSON.parse(await readFile(file, 'utf8')) as BenchmarkResult
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** The child's side of inChild: the one benchmark, its result written to `file`. */
async function runChild(only: string[] | undefined, quick: boolean, file: string): Promise<number> {
  const bench = BENCHMARKS.find((b) => only?.length === 1 && b.name === only[0])
  if (bench === undefined) throw new Error('bench: --child needs exactly one --only benchmark')
  const t0 = performance.now()
  const output = await bench.run(quick ? QUICK : FULL)
  const result: BenchmarkResult = { name: bench.name, ...output, wallMs: performance.now() - t0 }
  await writeFile(file, JSON.stringify(result))
  return 0
}

/** Moves a profile out of its temporary folder into `dir/profiles`, removing the folder. */
async function keepWith(dir: string, profile: ProfileSummary): Promise<ProfileSummary> {
  const target = join(dir, 'profiles', basename(profile.file))
  await mkdir(dirname(target), { recursive: true })
  await copyFile(profile.file, target)
  await rm(dirname(profile.file), { recursive: true, force: true })
  return { ...profile, file: target }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(
      `bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    )
    process.exit(1)
  },
)
