import type { Budget } from './harness.js'

/** A target a figure is held to, and whether this run met it. */
export interface Goal {
  text: string
  met: boolean
  /**
   * Why no verdict is given (another process kept the machine busy during the
   * measurement): the figure stands, met or missed is not claimed.
   */
  withheld?: string
}

/** One figure of a benchmark: the networker's, its baseline's, and their ratio. */
export interface Row {
  metric: string
  /** The networker's figure. */
  subject: number
  /** The baseline's figure, measured in the same run. */
  baseline: number
  unit: string
  ratio: number
  /** What the ratio divides, e.g. 'networker ÷ raw'. */
  ratioLabel: string
  goal: Goal | null
  /** The ratio of each interleaved round (or run pair), to show the spread behind the median. */
  rounds?: number[]
  /** Measured context for a missed goal (e.g. where the heap goes), printed under it. */
  why?: string
  /** The workload profile.ts runs under --cpu-prof when the goal is missed. */
  profile?: string
}

/** One point of a curve: a figure at a count, the networker's and its baseline's. */
export interface CurvePoint {
  count: number
  networker: number
  /** null where nothing is measured beside the networker. */
  baseline: number | null
}

/** A figure measured at several counts, for the charts (bench/charts.ts). */
export interface Curve {
  /** What is counted: 'topics' or 'peers'. */
  of: string
  /** What is measured per item, e.g. 'time to configure'. */
  figure: string
  unit: string
  networkerLabel: string
  baselineLabel: string
  points: CurvePoint[]
}

export interface BenchmarkResult {
  name: string
  title: string
  subjectLabel: string
  baselineLabel: string
  rows: Row[]
  /** Workload sizes and settings, so a figure can be read without the source. */
  params: Record<string, string | number | boolean>
  notes: string[]
  /** Figures against counts, charted in RESULTS.md. */
  curves?: Curve[]
  wallMs: number
}

export type BenchmarkOutput = Omit<BenchmarkResult, 'name' | 'wallMs'>

/** One benchmark: runs itself, and offers workloads to profile when a goal is missed. */
export interface Benchmark {
  name: string
  run(budget: Budget): Promise<BenchmarkOutput>
  /** Workloads named by `Row.profile`, profiled once in a child process (profile.ts). */
  profiles: Record<string, ProfileWorkload>
}

/** Sets a workload up and returns its hot part: only that part is profiled. */
export type ProfileWorkload = (quick: boolean) => Promise<() => Promise<void>>

export function goal(text: string, met: boolean): Goal {
  return { text, met }
}
