import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { measure } from 'mitata'

/** How hard to measure: quick mode only proves every path runs. */
export interface Budget {
  quick: boolean
  /** Interleaved rounds per pair (each round measures both sides once). */
  rounds: number
  /** mitata's minimum measuring time per side and round (ms). */
  minCpuMs: number
  /** mitata's minimum samples per side and round. */
  minSamples: number
  /** mitata's maximum samples per side and round. */
  maxSamples: number
  /**
   * Time one call per round instead (no mitata warm-up call): for operations of many
   * seconds, where mitata's minimum of a warm-up plus a sample would double the run.
   */
  single?: boolean
}

export const FULL: Budget = {
  quick: false,
  rounds: 16,
  minCpuMs: 120,
  minSamples: 8,
  maxSamples: 10_000,
}
export const QUICK: Budget = { quick: true, rounds: 2, minCpuMs: 10, minSamples: 2, maxSamples: 50 }

/** One side of a comparison: a named operation mitata times. */
export interface Side {
  name: string
  fn: () => unknown
  /** This side's own sample budget (rounds stay common to all sides). */
  budget?: Partial<Omit<Budget, 'rounds'>>
}

export interface Timing {
  /** Per side, the median over rounds of each round's median time per operation (ns). */
  ns: number[]
  /** Per side, each round's median (ns), in round order. */
  rounds: number[][]
  /** Operations timed, all sides together. */
  samples: number
}

/**
 * Times every side with mitata in the same process, interleaved: the order is reversed
 * every round (A,B,C then C,B,A …), so drift on a shared machine (other jobs, heat, heap
 * growth) lands on every side alike. A side's own budget lets a slow operation take fewer samples.
 */
export async function interleaved(
  sides: readonly Side[],
  budget: Budget,
  override: Partial<Budget> = {},
): Promise<Timing> {
  const b = { ...budget, ...override }
  const optsOf = (side: Side) => {
    const own = { ...b, ...side.budget }
    return {
      min_cpu_time: own.minCpuMs * 1e6,
      min_samples: own.minSamples,
      max_samples: own.maxSamples,
    }
  }
  const rounds: number[][] = sides.map(() => [])
  let samples = 0
  for (let r = 0; r < b.rounds; r++) {
    const order = sides.map((_, i) => i)
    if (r % 2 === 1) order.reverse()
    for (const i of order) {
      const side = sides[i] as Side
      if ({ ...b, ...side.budget }.single === true) {
        const t0 = process.hrtime.bigint()
        await side.fn()
        ;(rounds[i] as number[]).push(Number(process.hrtime.bigint() - t0))
        samples++
        continue
      }
      const stats = await measure(side.fn, optsOf(side))
      ;(rounds[i] as number[]).push(stats.p50)
      samples += stats.samples.length
    }
  }
  return { ns: rounds.map(median), rounds, samples }
}

/**
 * Time of side `a` over time of side `b`: the median of the per-round ratios. Each round
 * measures both sides back to back, so pairing them cancels drift between rounds better
 * than dividing the two medians.
 */
export function pairedRatio(t: Timing, a: number, b: number): number {
  return median(roundRatios(t.rounds[a] ?? [], t.rounds[b] ?? []))
}

/** Each round's `a` over the same round's `b`. */
export function roundRatios(a: readonly number[], b: readonly number[]): number[] {
  return a.map((x, r) => x / (b[r] as number))
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

type GcFunction = () => void

/** global.gc from --expose-gc; otherwise the flag is set at run time and gc fetched from a fresh context. */
function findGc(): GcFunction {
  if (typeof globalThis.gc === 'function') {
    const gc = globalThis.gc
    return () => {
      gc()
    }
  }
  setFlagsFromString('--expose-gc')
  return runInNewContext('gc') as GcFunction
}

let cachedGc: GcFunction | null = null

/** Heap in use after full collections: what is really retained, not garbage waiting. */
export async function settledHeap(): Promise<number> {
  cachedGc ??= findGc()
  // Let pending callbacks and promise jobs release what they hold before collecting.
  for (let i = 0; i < 3; i++) {
    await new Promise<void>((resolve) => setImmediate(resolve))
    cachedGc()
  }
  return process.memoryUsage().heapUsed
}

/** Resolves after `ms`, for waits on a real network. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Resolves once `predicate` holds, polling every few ms; rejects after `ms`. */
export async function until(predicate: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = performance.now() + ms
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`)
    await sleep(2)
  }
}

/** Deterministic bytes for keys and payloads: the same workload every run. */
export function seededBytes(seed: number, length: number): Buffer {
  const out = Buffer.alloc(length)
  let x = seed >>> 0 || 1
  for (let i = 0; i < length; i++) {
    // xorshift32: fast, and enough to spread keys across the key space.
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    out[i] = x & 0xff
  }
  return out
}
