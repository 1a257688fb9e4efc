import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import type { Profiler } from 'node:inspector'
import { Session } from 'node:inspector/promises'
import { SourceMap } from 'node:module'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { runNodeChild } from './node-child.js'
import { ROOT } from './root.js'
import { BENCHMARKS } from './suites.js'

/**
 * Profiles of the workloads behind missed goals. `node dist/bench/profile.js <bench> <case>
 * <out.cpuprofile> [--quick]` sets one workload up and records only its hot part with V8's
 * CPU profiler (the one behind `node --cpu-prof`), in a process of its own so the rest of
 * the run does not pollute it; `profileCase` runs that and summarises the result.
 */

export interface ProfileLine {
  name: string
  percent: number
  selfMs: number
}

export interface ProfileSummary {
  case: string
  sampledMs: number
  /** Self time by where the code lives: a package, a part of this repo, GC, idle. */
  byArea: ProfileLine[]
  /** The functions with the most self time, named `function file:line` (TypeScript lines via source maps). */
  top: ProfileLine[]
  file: string
}

const SAMPLING_INTERVAL_US = 250
const SPECIAL = new Set(['(garbage collector)', '(idle)', '(program)', '(root)'])

export async function profileCase(
  bench: string,
  name: string,
  quick: boolean,
): Promise<ProfileSummary> {
  const dir = await mkdtemp(join(tmpdir(), 'csn-bench-profile-'))
  const file = join(dir, `${bench}-${name}.cpuprofile`)
  const args = [bench, name, file, ...(quick ? ['--quick'] : [])]
  await runNodeChild(fileURLToPath(import.meta.url), args, `profiling ${bench}/${name}`)
  const profile = JSON.parse(await readFile(file, 'utf8')) as Profiler.Profile
  return { ...summarise(profile), case: `${bench}/${name}`, file }
}

/** Self time per profile node, then grouped by function and by area. */
export function summarise(
  profile: Profiler.Profile,
  top = 12,
): Omit<ProfileSummary, 'case' | 'file'> {
  const selfUs = new Map<number, number>()
  const samples = profile.samples ?? []
  const deltas = profile.timeDeltas ?? []
  const parent = new Map<number, number>()
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parent.set(child, node.id)
  const urls = new Map(profile.nodes.map((n) => [n.id, n.callFrame.url]))
  // Samples taken inside the inspector calls that start and stop the profiler are not
  // the workload's.
  const profiler = (id: number): boolean => {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      if (urls.get(at) === 'node:inspector') return true
    }
    return false
  }
  // A sample's delta is the time since the previous one: the time that sample stands for.
  // The first delta runs from the profile's start, before any sample: left out.
  for (let i = 1; i < samples.length; i++) {
    const id = samples[i] as number
    if (profiler(id)) continue
    selfUs.set(id, (selfUs.get(id) ?? 0) + (deltas[i] ?? 0))
  }
  const byFunction = new Map<string, number>()
  const byArea = new Map<string, number>()
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]))
  let total = 0
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id) ?? 0
    if (us === 0) continue
    total += us
    let frame = node.callFrame
    let native = false
    if (frame.url === '' && !SPECIAL.has(frame.functionName)) {
      // V8 names native frames by the nearest exported symbol, often a wrong one (an
      // addon's unrelated function): charge them to the JavaScript that called them.
      native = true
      for (let at = parent.get(node.id); at !== undefined; at = parent.get(at)) {
        const caller = nodes.get(at)?.callFrame
        if (caller !== undefined && caller.url !== '') {
          frame = caller
          break
        }
      }
    }
    const name =
      `${frame.functionName || '(anonymous)'} ${where(frame.url, frame.lineNumber, frame.columnNumber)}`.trim()
    const fn = native ? `native code called by ${name}` : name
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us)
    const area = areaOf(frame.functionName, frame.url)
    byArea.set(area, (byArea.get(area) ?? 0) + us)
  }
  const lines = (m: Map<string, number>, n: number): ProfileLine[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, selfMs: us / 1000, percent: (100 * us) / total }))
  return { sampledMs: total / 1000, byArea: lines(byArea, 8), top: lines(byFunction, top) }
}

function areaOf(functionName: string, url: string): string {
  if (functionName === '(garbage collector)') return 'garbage collection'
  if (functionName === '(idle)') return 'idle (waiting for I/O)'
  if (functionName === '(program)') return 'V8/native (program)'
  if (url === '') return 'native'
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (pkg !== null) return pkg[1] as string
  if (url.startsWith('node:')) return 'node internals'
  const path = url.startsWith('file:') ? relative(ROOT, fileURLToPath(url)) : url
  if (path.startsWith('dist/src/core/')) return 'src/core'
  if (path.startsWith('dist/src/io/')) return 'src/io'
  if (path.startsWith('dist/src/')) return 'src/networker'
  if (path.startsWith('dist/sim/')) return 'sim'
  if (path.startsWith('dist/bench/')) return 'bench harness'
  return path
}

const maps = new Map<string, SourceMap | null>()

/** `file:line` for a frame, in the TypeScript source when the file has a source map. */
function where(url: string, line: number, column: number): string {
  if (url === '') return ''
  if (!url.startsWith('file:')) return `${url}:${line + 1}`
  const path = fileURLToPath(url)
  let map = maps.get(path)
  if (map === undefined) {
    const file = `${path}.map`
    map = existsSync(file)
      ? new SourceMap(
          JSON.parse(readFileSync(file, 'utf8')) as ConstructorParameters<typeof SourceMap>[0],
        )
      : null
    maps.set(path, map)
  }
  const entry = map?.findEntry(line, column)
  if (entry !== undefined && entry !== null && 'originalSource' in entry) {
    const source = entry.originalSource.startsWith('file:')
      ? fileURLToPath(entry.originalSource)
      : join(path, '..', entry.originalSource)
    return `${relative(ROOT, source)}:${entry.originalLine + 1}`
  }
  const shown = path.includes('node_modules')
    ? path.slice(path.indexOf('node_modules'))
    : relative(ROOT, path)
  return `${shown}:${line + 1}`
}

async function main(): Promise<void> {
  const [bench, name, out] = process.argv.slice(2)
  const quick = process.argv.includes('--quick')
  const workload = BENCHMARKS.find((b) => b.name === bench)?.profiles[name ?? '']
  if (workload === undefined || out === undefined) {
    throw new Error(`usage: profile.js <bench> <case> <out.cpuprofile> [--quick]`)
  }
  const hot = await workload(quick)
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.setSamplingInterval', { interval: SAMPLING_INTERVAL_US })
  await session.post('Profiler.start')
  await hot()
  const { profile } = await session.post('Profiler.stop')
  session.disconnect()
  await writeFile(out, JSON.stringify(profile))
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
      process.exit(1)
    },
  )
}
